#!/usr/bin/env bash
# The README's test command: set-up (tests/setup.sh), then formatting and lint checks and
# every test of the workspace. The integration tests start their own PostgreSQL clusters.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
say "cargo test (unit and integration tests)"
cargo test --workspace --exclude pg_jobmon -- "$@"
