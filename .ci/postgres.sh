#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the store/API tests (tests/api), in a temporary directory on a free port.
#
#   eval "$(.ci/postgres.sh)"      # installs PostgreSQL if missing, starts a cluster, exports the URL
#   make test                      # tests/api now also run against PostgreSQL
#   .ci/postgres.sh stop DIR       # stops the cluster and removes DIR (DIR is printed as SEAWATCH_TEST_POSTGRES_DIR)
#
# Everything but the final export lines goes to stderr, so the script can be eval'd. The server runs as the
# unprivileged `postgres` user when started as root (PostgreSQL refuses to run as root), as the caller otherwise.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

as_owner() {
    if [ "$(id -u)" = "0" ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [ "${1:-}" = "stop" ]; then
    dir="${2:?usage: postgres.sh stop DIR}"
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast stop >&2 || true
    rm -rf "$dir"
    exit 0
fi

if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    log "installing PostgreSQL (Debian packages)"
    if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
fi
bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

# A free port: ask the kernel for one.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

dir="$(mktemp -d -t seawatch-pg.XXXXXX)"
chmod 755 "$dir"
if [ "$(id -u)" = "0" ]; then chown postgres "$dir"; fi

log "initdb in $dir/data"
as_owner "$bindir/initdb" -D "$dir/data" -U seawatch --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
log "starting on 127.0.0.1:$port"
as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >&2
as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U seawatch seawatch_test

echo "export SEAWATCH_TEST_POSTGRES_URL=postgresql+psycopg://seawatch@127.0.0.1:$port/seawatch_test"
echo "export SEAWATCH_TEST_POSTGRES_DIR=$dir"
