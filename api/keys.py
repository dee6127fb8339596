"""API keys: created once (the plaintext is shown once), stored as a salted scrypt hash, checked per request.

A key reads ``sw_<id>_<secret>``: the id finds the record without scanning, the secret is what is hashed.
Checking a key costs one scrypt (tens of milliseconds, on purpose); a key that passed is remembered for
:data:`CACHE_SECONDS` under its SHA-256 so that a busy client does not pay it on every request. Once a key id's
secret has passed in this process, its SHA-256 is kept too: a wrong secret for that id is then refused with one
SHA-256 instead of a scrypt. Failed checks are throttled per address and per key id (token buckets, settings
``auth_failures_*``): past the burst, 429 with ``Retry-After`` and no scrypt at all.

A key may expire (``expires_at``: refused after it, in every process at once) and records when it was last used
(``last_used_at``, written at most once every :data:`LAST_USED_EVERY_S` per key: not a write per request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from api.limits import TokenBuckets
from api.store import ROLES, Store

PREFIX = "sw"
# scrypt cost: n=2**14, r=8 is the interactive-login setting of the scrypt paper (Percival 2009), ~16 MB
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**14, 8, 1, 32
# a key revoked in another process stops working within this time; at once while the app follows the database's
# changes (api/store/changes.py: the default), and in this process always
CACHE_SECONDS = 60.0
BOOTSTRAP_ID = "bootstrap"
LAST_USED_EVERY_S = 60.0  # last_used_at is at most this stale: a write a minute per key, not one per request
MAX_KEY_CHARS = 200  # a generated key is ~60 characters; anything far longer is not one of ours


class AuthThrottled(Exception):
    """Too many failed key checks from this address or for this key id; ``wait`` seconds until the next try."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"too many failed API key checks: try again in {wait:.0f} s")
        self.wait = wait


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its name (recorded as "by" in triage and zone edits) and role."""

    key_id: str
    name: str
    role: str

    def allows(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_LEN)


def key_id_of(presented: str) -> str | None:
    """The id part of ``sw_<id>_<secret>``; None when the text is not shaped like a key."""
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not key_id or not secret or len(presented) > MAX_KEY_CHARS:
        return None
    return key_id


def create_key(store: Store, name: str, role: str, *, expires_at: datetime | None = None, by: str = "seawatch keys",
               by_key_id: str | None = None) -> str:  # fmt: skip
    """Create a key and return its plaintext (only here: the store keeps a hash). For the first admin key:

    ``from api.keys import create_key; from api.store import Store``
    ``print(create_key(Store("sqlite:///seawatch.db"), "duty officer", "admin"))``

    ``expires_at``: refused after this time (never by default); ``by``, ``by_key_id``: who made it, for the audit.
    """
    if role not in ROLES:
        raise ValueError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("give the key a name: it is recorded with every triage decision made with it")
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= datetime.now(UTC)):
        raise ValueError("expires_at must be an aware time (UTC) in the future")
    key_id, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_bytes(16)
    store.add_key(key_id, name.strip(), role, salt, _hash(secret, salt), expires_at=expires_at, by=by,
                  by_key_id=by_key_id)  # fmt: skip
    return f"{PREFIX}_{key_id}_{secret}"


class KeyChecker:
    """Checks presented keys against the store (and the bootstrap admin key from the settings, if any).

    ``failures``: token buckets of failed checks, keyed by address and by key id (none: no throttling).
    """

    def __init__(self, store: Store, bootstrap_admin_key: str | None = None,
                 failures: TokenBuckets | None = None) -> None:  # fmt: skip
        self.store = store
        self._bootstrap = bootstrap_admin_key
        self.failures = failures or TokenBuckets(0.0, 1)
        self._cache: dict[bytes, tuple[Principal, float]] = {}
        self._passed: dict[str, bytes] = {}  # key id -> SHA-256 of the key that passed the scrypt
        self._touched: dict[str, float] = {}  # key id -> when last_used_at was last written (monotonic)
        self._lock = threading.Lock()
        self.scrypts = 0  # how many scrypts this checker ran (the cost a failed check may have)

    def check(self, presented: str, address: str = "unknown") -> Principal | None:
        """The principal of a valid, unrevoked, unexpired key; None otherwise (a failure, counted against
        ``address`` and the key id). :class:`AuthThrottled` when either has failed too often lately."""
        principal = self.remembered(presented)
        if principal is not None:
            return principal
        wait = self.failures.wait(("address", address))
        if wait > 0:
            raise AuthThrottled(wait)
        key_id = key_id_of(presented)
        principal, expires_at = self._verify(presented, key_id) if key_id else (None, None)
        if principal is None:
            self.failures.take(("address", address))
            if key_id is not None:
                self.failures.take(("key", key_id))
            return None
        ttl = CACHE_SECONDS
        if expires_at is not None:
            ttl = min(ttl, (expires_at - datetime.now(UTC)).total_seconds())
        with self._lock:
            self._cache[_fingerprint(presented)] = (principal, time.monotonic() + ttl)
        return principal

    def remembered(self, presented: str) -> Principal | None:
        """The principal of the bootstrap key or of a key that passed lately; None when it needs checking.

        Cheap (one SHA-256, no store): async code calls it first and sends only the rest to :meth:`check`.
        """
        if self._bootstrap is not None and hmac.compare_digest(presented.encode(), self._bootstrap.encode()):
            return Principal(BOOTSTRAP_ID, "bootstrap-admin", "admin")
        with self._lock:
            hit = self._cache.get(_fingerprint(presented))
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def _verify(self, presented: str, key_id: str) -> tuple[Principal | None, datetime | None]:
        record = self.store.key(key_id)
        if record is None or record["revoked_at"] is not None:
            return None, None
        expires_at = record.get("expires_at")
        if expires_at is not None and expires_at <= datetime.now(UTC):
            return None, None
        fingerprint = _fingerprint(presented)
        with self._lock:
            passed = self._passed.get(key_id)
        if passed is not None:  # this id's secret is known: a SHA-256 tells right from wrong, no scrypt
            ok = hmac.compare_digest(fingerprint, passed)
        else:
            wait = self.failures.wait(("key", key_id))
            if wait > 0:
                raise AuthThrottled(wait)
            self.scrypts += 1
            ok = hmac.compare_digest(_hash(presented.split("_", 2)[2], record["salt"]), record["hash"])
            if ok:
                with self._lock:
                    self._passed[key_id] = fingerprint
        if not ok:
            return None, None
        return Principal(record["id"], record["name"], record["role"]), expires_at

    def touch_due(self, key_id: str) -> bool:
        """Whether ``key_id``'s ``last_used_at`` is due a write (at most once every :data:`LAST_USED_EVERY_S`);
        True claims it, so that concurrent requests write it once."""
        if key_id == BOOTSTRAP_ID or key_id == "anonymous":
            return False
        now = time.monotonic()
        with self._lock:
            if now - self._touched.get(key_id, -float("inf")) < LAST_USED_EVERY_S:
                return False
            self._touched[key_id] = now
        return True

    def forget(self) -> None:
        """Drop remembered keys (after a revocation)."""
        with self._lock:
            self._cache.clear()
            self._passed.clear()


def _fingerprint(presented: str) -> bytes:
    return hashlib.sha256(presented.encode()).digest()
