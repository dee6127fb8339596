"""API keys: created once (the plaintext is shown once), stored as a salted scrypt hash, checked per request.

A key reads ``sw_<id>_<secret>``: the id finds the record without scanning, the secret is what is hashed.
Checking a key costs one scrypt (tens of milliseconds, on purpose); a key that passed is remembered for
:data:`CACHE_SECONDS` under its SHA-256 so that a busy client does not pay it on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from api.store import ROLES, Store

PREFIX = "sw"
# scrypt cost: n=2**14, r=8 is the interactive-login setting of the scrypt paper (Percival 2009), ~16 MB
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**14, 8, 1, 32
CACHE_SECONDS = 60.0  # a key revoked in another process stops working within this time (at once in this one)
BOOTSTRAP_ID = "bootstrap"


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


def create_key(store: Store, name: str, role: str) -> str:
    """Create a key and return its plaintext (only here: the store keeps a hash). For the first admin key:

    ``from api.keys import create_key; from api.store import Store``
    ``print(create_key(Store("sqlite:///seawatch.db"), "duty officer", "admin"))``
    """
    if role not in ROLES:
        raise ValueError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("give the key a name: it is recorded with every triage decision made with it")
    key_id, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_bytes(16)
    store.add_key(key_id, name.strip(), role, salt, _hash(secret, salt))
    return f"{PREFIX}_{key_id}_{secret}"


class KeyChecker:
    """Checks presented keys against the store (and the bootstrap admin key from the settings, if any)."""

    def __init__(self, store: Store, bootstrap_admin_key: str | None = None) -> None:
        self.store = store
        self._bootstrap = bootstrap_admin_key
        self._cache: dict[bytes, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def check(self, presented: str) -> Principal | None:
        """The principal of a valid, unrevoked key; None otherwise."""
        principal = self.remembered(presented)
        if principal is not None:
            return principal
        fingerprint = hashlib.sha256(presented.encode()).digest()
        now = time.monotonic()
        principal = self._verify(presented)
        if principal is not None:
            with self._lock:
                self._cache[fingerprint] = (principal, now + CACHE_SECONDS)
        return principal

    def remembered(self, presented: str) -> Principal | None:
        """The principal of the bootstrap key or of a key that passed lately; None when it needs checking.

        Cheap (one SHA-256, no store): async code calls it first and sends only the rest to :meth:`check`.
        """
        if self._bootstrap is not None and hmac.compare_digest(presented.encode(), self._bootstrap.encode()):
            return Principal(BOOTSTRAP_ID, "bootstrap-admin", "admin")
        fingerprint = hashlib.sha256(presented.encode()).digest()
        with self._lock:
            hit = self._cache.get(fingerprint)
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def _verify(self, presented: str) -> Principal | None:
        prefix, _, rest = presented.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != PREFIX or not key_id or not secret or len(presented) > 200:
            return None
        record = self.store.key(key_id)
        if record is None or record["revoked_at"] is not None:
            return None
        if not hmac.compare_digest(_hash(secret, record["salt"]), record["hash"]):
            return None
        return Principal(record["id"], record["name"], record["role"])

    def forget(self) -> None:
        """Drop remembered keys (after a revocation)."""
        with self._lock:
            self._cache.clear()
