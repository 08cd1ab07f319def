#!/usr/bin/env bash
# Tests the packages tests/package.sh built into OUT (default target/packages): installs
# them into clean Debian 12 roots (debootstrap, chroot), checks file lists, control data
# and scripts of every .deb and .rpm, lintian, and the tracker binaries' glibc floors.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/target/packages}
status=0
bash "$ROOT/pg_jobmon/packaging/test.sh" "$OUT" || status=1
if [ -f "$ROOT/tracker-worker/packaging/test.sh" ]; then
    bash "$ROOT/tracker-worker/packaging/test.sh" "$OUT" || status=1
fi
exit $status
