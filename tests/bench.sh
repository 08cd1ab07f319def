#!/usr/bin/env bash
# The README's benchmark command: set-up (tests/setup.sh: installs what is missing, builds the
# extension in release mode and installs it into PostgreSQL 15), then the benchmark program,
# itself a release build (`cargo bench`), which starts its own cluster and makes its own data.
# Options go to the program: `bash tests/bench.sh --help`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"

say "cargo bench -p jobmon-tests --bench bench (release build) $*"
cargo bench -p jobmon-tests --bench bench -- "$@"
