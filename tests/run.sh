#!/usr/bin/env bash
# The README's test command: set-up (tests/setup.sh) for every supported PostgreSQL major,
# then formatting and lint checks, every test of the workspace on the system's PostgreSQL
# (15), and every test that touches the extension on each other major (14, 16, 17, 18);
# on every major the logging tests also run in the shared mode (the writer processes).
# The integration tests start their own PostgreSQL clusters.
#
#   PG_MAJORS="14 18"   test only these other majors as well (default: all supported)
#   bash tests/run.sh NAME   extra arguments go to every `cargo test` (a test name filter)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/pg-majors.sh"
export PG_MAJORS=${PG_MAJORS:-${PG_SUPPORTED_MAJORS[*]}}
unset PG_MAJOR
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"

# The test binaries that touch the extension (schema, logging, check_job_status,
# interrupts, sessions and pg_dump/restore, privileges and bad input, the background
# connection's errors, the update from 1.5.0 and the kept versions, the tracker's SQL
# functions and the plugin's queries): these run on every major. The rest (unit tests, the
# tracker's SSH sources and fault injection, the cross-major comparison itself) does not
# depend on the server's major and runs on the default one only.
EXTENSION_TESTS=(schema logging check_job_status interrupts sessions privileges upgrade
                 connection_errors connection_settings hot_standby writer
                 tracker_ingest tracker_alerts tracker_bad_input tracker_nagios
                 tracker_pg_restart tracker_scale tracker_retention tracker_suggest web
                 bench_web_data)
# The tests of logging itself run a second time in the shared mode (JOBMON_TEST_MODE=shared:
# the harness's clusters preload pg_jobmon, so the writer processes do the logging), on
# every major; tests/writer.rs always runs in that mode.
SHARED_MODE_TESTS=(schema logging check_job_status interrupts sessions privileges
                   connection_errors)

# The comparisons across majors (tests/tests/majors.rs) see every installation.
configs=()
for m in "${majors[@]}"; do configs+=("$(pg_config_of "$m")"); done
export JOBMON_TEST_PG_CONFIGS
JOBMON_TEST_PG_CONFIGS=$(IFS=:; echo "${configs[*]}")

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

failed=()
say "PostgreSQL $PG_DEFAULT_MAJOR: cargo test (unit and integration tests, the whole suite)"
PG_CONFIG=$(pg_config_of "$PG_DEFAULT_MAJOR") cargo test --workspace --exclude pg_jobmon -- "$@" \
    || failed+=("$PG_DEFAULT_MAJOR")

test_args=()
for t in "${EXTENSION_TESTS[@]}"; do test_args+=(--test "$t"); done
shared_args=()
for t in "${SHARED_MODE_TESTS[@]}"; do shared_args+=(--test "$t"); done
for m in "${majors[@]}"; do
    if [ "$m" != "$PG_DEFAULT_MAJOR" ]; then
        say "PostgreSQL $m: cargo test ${test_args[*]}"
        PG_CONFIG=$(pg_config_of "$m") cargo test -p jobmon-tests "${test_args[@]}" -- "$@" \
            || failed+=("$m")
    fi
    say "PostgreSQL $m, shared mode: cargo test ${shared_args[*]}"
    JOBMON_TEST_MODE=shared PG_CONFIG=$(pg_config_of "$m") \
        cargo test -p jobmon-tests "${shared_args[@]}" -- "$@" || failed+=("$m (shared mode)")
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED on PostgreSQL ${failed[*]} (see the test output above each '==> PostgreSQL N' line)" >&2
    exit 1
fi
say "all tests passed on PostgreSQL ${majors[*]}"
