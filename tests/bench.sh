#!/usr/bin/env bash
# The README's benchmark command: set-up (tests/setup.sh: installs what is missing, builds the
# extension in release mode and installs it into the PostgreSQL major(s) asked for), then the
# benchmark program, itself a release build (`cargo bench`), which starts its own cluster and
# makes its own data. Options go to the program: `bash tests/bench.sh --help`.
#   PG_MAJOR=18          benchmark on that major (default: the system's, 15)
#   PG_MAJORS="15 18"    one after the other in the same run, each with its own baselines
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"

for m in "${majors[@]}"; do
    say "PostgreSQL $m: cargo bench -p jobmon-tests --bench bench (release build) $*"
    PG_CONFIG=$(pg_config_of "$m") cargo bench -p jobmon-tests --bench bench -- "$@"
done
