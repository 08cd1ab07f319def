#!/usr/bin/env bash
# Shared set-up of the README's two commands (demo.sh, run.sh): installs what is missing
# (PostgreSQL 15 server and headers, clang, sudo, cargo-pgrx at the pgrx pin), then builds
# and installs the extension into PostgreSQL 15. Idempotent; quick when nothing changed.
# Source it (it sets ROOT, PG_BIN, AS_ROOT, AS_POSTGRES) or run it on its own.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ "$(id -u)" = 0 ]; then
    AS_ROOT=()
    AS_POSTGRES=(runuser -u postgres --)
else
    command -v sudo >/dev/null || { echo "run as root, or install sudo" >&2; exit 1; }
    AS_ROOT=(sudo)
    AS_POSTGRES=(sudo -u postgres)
fi

# 1. Debian packages.
packages=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR clang libclang-dev sudo
          pkg-config libssl-dev openssh-server openssh-client sqlite3)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. cargo-pgrx, at exactly the version pg_jobmon/Cargo.toml pins pgrx to.
command -v cargo >/dev/null || { echo "cargo not found: install the Rust toolchain (rustup) first" >&2; exit 1; }
PGRX_VERSION=$(sed -n 's/^pgrx = "=\([0-9.]*\)".*/\1/p' "$ROOT/pg_jobmon/Cargo.toml")
if [ "$(cargo pgrx --version 2>/dev/null | awk '{print $2}')" != "$PGRX_VERSION" ]; then
    say "installing cargo-pgrx $PGRX_VERSION (takes about 5 minutes, once)"
    cargo install cargo-pgrx --version "=$PGRX_VERSION" --locked --quiet
fi
if ! grep -qs "^pg$PG_MAJOR = \"$PG_BIN/pg_config\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
    say "cargo pgrx init --pg$PG_MAJOR"
    cargo pgrx init --pg$PG_MAJOR "$PG_BIN/pg_config" >/dev/null
fi

# 3. Build and install the extension (release build; a no-op build when nothing changed).
say "building and installing pg_jobmon into PostgreSQL $PG_MAJOR"
sudo_flag=()
[ ${#AS_ROOT[@]} -gt 0 ] && sudo_flag=(--sudo)
build_log=$(mktemp)
if ! (cd "$ROOT/pg_jobmon" && cargo pgrx install --release "${sudo_flag[@]}" \
        --pg-config "$PG_BIN/pg_config") >"$build_log" 2>&1; then
    tail -n 60 "$build_log" >&2
    echo "building or installing pg_jobmon failed (full log: $build_log)" >&2
    exit 1
fi
rm -f "$build_log"
test -f "/usr/share/postgresql/$PG_MAJOR/extension/pg_jobmon.control" \
    || { echo "pg_jobmon was not installed (see the build output above)" >&2; exit 1; }
