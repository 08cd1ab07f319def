#!/usr/bin/env bash
# Builds every package from this checkout into OUT (default target/packages): the
# pg_jobmon extension for each supported PostgreSQL major (.deb and .rpm), its PGXN
# distribution, and jobmon-tracker (.deb, .rpm and the source-host queue reader).
# Installs what it needs, as the other scripts do.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/target/packages}
source "$ROOT/tests/pg-majors.sh"
# The extension's release build for every major.
PG_MAJORS="${PG_SUPPORTED_MAJORS[*]}" bash "$ROOT/tests/setup.sh"
bash "$ROOT/pg_jobmon/packaging/build.sh" "$OUT"
if [ -f "$ROOT/tracker-worker/packaging/build.sh" ]; then
    bash "$ROOT/tracker-worker/packaging/build.sh" "$OUT"
fi
printf '\033[1m==> packages in %s\033[0m\n' "$OUT" >&2
ls -1 "$OUT" >&2
