#!/usr/bin/env bash
# The README's demo: set-up (tests/setup.sh), then a local PostgreSQL 15 cluster with a
# database using pg_jobmon, a job that logs its steps, fails and rolls back three nights in
# a row, and what survived: job_log, job_detail and check_job_status().
# Re-running it starts afresh with the same output. Settings: DEMO_DIR, DEMO_PORT.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

DEMO_DIR=${DEMO_DIR:-/var/tmp/pg_jobmon-demo}
DEMO_PORT=${DEMO_PORT:-5499}
DB=jobmon_demo

"${AS_ROOT[@]}" mkdir -p "$DEMO_DIR"
"${AS_ROOT[@]}" chown postgres: "$DEMO_DIR"
if [ ! -f "$DEMO_DIR/data/PG_VERSION" ]; then
    say "creating a demo cluster in $DEMO_DIR/data"
    "${AS_POSTGRES[@]}" "$PG_BIN/initdb" -D "$DEMO_DIR/data" --auth-local=peer --auth-host=scram-sha-256 >/dev/null
fi
if ! "${AS_POSTGRES[@]}" "$PG_BIN/pg_ctl" -D "$DEMO_DIR/data" status >/dev/null 2>&1; then
    say "starting it on port $DEMO_PORT (socket in $DEMO_DIR)"
    "${AS_POSTGRES[@]}" "$PG_BIN/pg_ctl" -D "$DEMO_DIR/data" -w -l "$DEMO_DIR/server.log" \
        -o "-p $DEMO_PORT -k $DEMO_DIR -c listen_addresses=''" start >/dev/null
fi

psql_demo() {
    "${AS_POSTGRES[@]}" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DEMO_DIR" -p "$DEMO_PORT" "$@"
}

say "a fresh database $DB with pg_jobmon"
psql_demo -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql_demo -d "$DB" <<'SQL'
CREATE SCHEMA jobmon;
CREATE EXTENSION pg_jobmon SCHEMA jobmon;
CREATE TABLE orders (id int PRIMARY KEY, amount numeric NOT NULL);

-- A nightly load as jobs using pg_jobmon 1.5.0 are written: every step is logged, the
-- failure too, and then the error is raised again so that the caller rolls back.
CREATE FUNCTION nightly_load() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_job  bigint;
    v_step bigint;
BEGIN
    v_job  := jobmon.add_job('nightly load');
    v_step := jobmon.add_step(v_job, 'Load orders');
    INSERT INTO orders SELECT g, g * 10 FROM generate_series(1, 3) g;
    PERFORM jobmon.update_step(v_step, 'OK', 'Rows loaded: 3');
    v_step := jobmon.add_step(v_job, 'Check order totals');
    PERFORM 1 / (SELECT count(*) FROM orders WHERE amount < 0);   -- division by zero
    PERFORM jobmon.update_step(v_step, 'OK', 'Totals match');
    PERFORM jobmon.close_job(v_job);
EXCEPTION WHEN OTHERS THEN
    PERFORM jobmon.update_step(v_step, 'CRITICAL', 'ERROR: ' || SQLERRM);
    PERFORM jobmon.fail_job(v_job);
    RAISE;
END
$$;
SQL

for night in 1 2 3; do
    say "night $night: BEGIN; SELECT nightly_load(); ROLLBACK;"
    psql_demo -d "$DB" -v ON_ERROR_STOP=0 -c "BEGIN" -c "SELECT nightly_load()" -c "ROLLBACK" 2>&1 \
        | sed 's/^/    /' || true
done

say "what survived the rollbacks"
psql_demo -d "$DB" <<'SQL'
\echo 'orders (rolled back, so empty):'
SELECT count(*) AS orders FROM orders;
\echo 'jobmon.job_log:'
SELECT job_id, owner, job_name, status, end_time - start_time AS duration FROM jobmon.job_log ORDER BY job_id;
\echo 'jobmon.job_detail:'
SELECT job_id, step_id, action, status, message FROM jobmon.job_detail ORDER BY step_id;
\echo 'SELECT * FROM jobmon.check_job_status();  -- what Nagios sees'
SELECT * FROM jobmon.check_job_status();
SQL
say "done. Connect with: ${AS_POSTGRES[*]} psql -h $DEMO_DIR -p $DEMO_PORT $DB"
say "stop the demo cluster with: ${AS_POSTGRES[*]} $PG_BIN/pg_ctl -D $DEMO_DIR/data stop"
