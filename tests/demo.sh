#!/usr/bin/env bash
# The README's demo: set-up (tests/setup.sh), then a local PostgreSQL cluster (PG_MAJOR,
# default the system's 15) with a database using pg_jobmon, a job that logs its steps,
# fails and rolls back three nights in a row, and what survived: job_log, job_detail and
# check_job_status(). Then jobmon-tracker: a local queue fed by a demo producer, the
# tracker evaluating it, and the Checkmk lines, check_job_status() and Nagios output that
# follow; last the dashboard (`jobmon-tracker web`), left running, with its URL printed.
# Re-running it starts afresh with the same output. Settings: PG_MAJOR, DEMO_DIR, DEMO_PORT,
# DEMO_WEB_PORT (the dashboard's, default 8470).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

DEMO_DIR=${DEMO_DIR:-/var/tmp/pg_jobmon-demo}
DEMO_PORT=${DEMO_PORT:-5499}
DB=jobmon_demo

"${AS_ROOT[@]}" mkdir -p "$DEMO_DIR"
"${AS_ROOT[@]}" chown postgres: "$DEMO_DIR"
# The demo directory holds one cluster: a demo of another major replaces it.
if [ -f "$DEMO_DIR/data/PG_VERSION" ] && [ "$(cat "$DEMO_DIR/data/PG_VERSION")" != "$PG_MAJOR" ]; then
    old_major=$(cat "$DEMO_DIR/data/PG_VERSION")
    say "replacing the PostgreSQL $old_major demo cluster in $DEMO_DIR/data with a PostgreSQL $PG_MAJOR one"
    old_pg_ctl=$(dirname "$(pg_config_of "$old_major")")/pg_ctl
    if [ -x "$old_pg_ctl" ]; then
        "${AS_POSTGRES[@]}" "$old_pg_ctl" -D "$DEMO_DIR/data" -m fast stop >/dev/null 2>&1 || true
    fi
    "${AS_ROOT[@]}" rm -rf "$DEMO_DIR/data"
fi
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
# Part two: jobmon-tracker. Three jobs outside the database write status messages into a
# local SQLite queue (the demo producer below); the tracker stores them in the same tables,
# evaluates its timing rules and writes Checkmk lines, which check_job_status() shows too.
say "building jobmon-tracker (release)"
cargo build --release --quiet -p tracker-worker --bin jobmon-tracker
TRACKER_DIR=$DEMO_DIR/tracker
"${AS_ROOT[@]}" rm -rf "$TRACKER_DIR"
"${AS_ROOT[@]}" install -d -o postgres "$TRACKER_DIR" "$TRACKER_DIR/state"
"${AS_ROOT[@]}" install -o postgres -m 0755 "$ROOT/target/release/jobmon-tracker" "$TRACKER_DIR/jobmon-tracker"
tracker() { "${AS_POSTGRES[@]}" "$TRACKER_DIR/jobmon-tracker" "$@"; }

say "the demo producer: jobs append STARTED / ERROR / SUCCESS messages to $TRACKER_DIR/queue.sqlite"
Q=$TRACKER_DIR/queue.sqlite
tracker queue -f "$Q" add --instance P --job EXPORT_FINANCE --event STARTED >/dev/null
tracker queue -f "$Q" add --instance P --job EXPORT_FINANCE --event SUCCESS --message '1200 rows exported' >/dev/null
tracker queue -f "$Q" add --instance P --job LOAD_DWH --event STARTED >/dev/null
tracker queue -f "$Q" add --instance P --job LOAD_DWH --event ERROR --message 'ORA-01555: snapshot too old' >/dev/null
tracker queue -f "$Q" add --instance P --job BACKUP --event STARTED >/dev/null
# The backup started three hours ago (its timeout is two hours).
"${AS_POSTGRES[@]}" sqlite3 "$Q" "UPDATE messages SET timestamp = julianday('now', '-3 hours') WHERE job = 'BACKUP'"
say "jobmon-tracker exec wraps an unchanged command as a job: start, end, exit status, duration, stderr"
tracker exec --job CLEANUP --env P --queue "$Q" -- \
    sh -c 'echo "removing old files"; echo "rm: cannot remove /data/x: Permission denied" >&2; exit 1' \
    || say "exit status $? (the command's)"
tracker queue -f "$Q" list -i 20 -t UTC | sed 's/^/    /'

"${AS_POSTGRES[@]}" tee "$TRACKER_DIR/jobmon-tracker.toml" >/dev/null <<TOML
[global]
time_zone = "UTC"
poll_interval = "10s"

[database]
host = "$DEMO_DIR"
port = $DEMO_PORT
dbname = "$DB"

[output]
state_dir = "$TRACKER_DIR/state"
spool_file = "$TRACKER_DIR/600_jobmon.txt"

[[sources]]
name = "local"
local_queue = "$Q"

[[jobs]]
name = "EXPORT_FINANCE"
env = "P"
cyclic = { interval = "1h" }

[[jobs]]
name = "LOAD_DWH"
env = "P"
daily = { start = "02:30", start_max_delay = "30m" }
max_errors_before_alerting = 1

[[jobs]]
name = "CLEANUP"
env = "P"
cyclic = { interval = "1d" }

[[jobs]]
name = "BACKUP"
env = "P"
cyclic = { interval = "1d" }
timeout = "2h"

[web]
listen = "127.0.0.1:${DEMO_WEB_PORT:-8470}"
TOML
say "jobmon-tracker run --once -c $TRACKER_DIR/jobmon-tracker.toml"
tracker run --once -c "$TRACKER_DIR/jobmon-tracker.toml" 2>&1 | sed 's/^/    /'
say "the Checkmk spool file it wrote ($TRACKER_DIR/600_jobmon.txt)"
sed 's/^/    /' "$TRACKER_DIR/600_jobmon.txt"
say "jobmon-tracker check (the same lines, evaluated on demand: a Checkmk local check)"
tracker check -c "$TRACKER_DIR/jobmon-tracker.toml" | sed 's/^/    /'
say "check_job_status() now reports the tracked jobs next to the nightly load"
psql_demo -d "$DB" -c "SELECT * FROM jobmon.check_job_status()"
say "jobmon-tracker nagios (a Nagios plugin around check_job_status(); exit 2 = CRITICAL)"
tracker nagios --config "$TRACKER_DIR/jobmon-tracker.toml" | sed 's/^/    /' || say "exit status $?"

say "jobmon-tracker web: the dashboard (pages and JSON API over the same tables)"
# A dashboard left by an earlier demo run holds the port: stop it first.
if [ -f "$TRACKER_DIR/web.pid" ]; then
    kill "$(cat "$TRACKER_DIR/web.pid")" 2>/dev/null || true
    rm -f "$TRACKER_DIR/web.pid"
fi
"${AS_POSTGRES[@]}" touch "$TRACKER_DIR/web.log"
"${AS_POSTGRES[@]}" truncate -s 0 "$TRACKER_DIR/web.log"
setsid "${AS_POSTGRES[@]}" "$TRACKER_DIR/jobmon-tracker" web -c "$TRACKER_DIR/jobmon-tracker.toml" \
    >/dev/null 2>>"$TRACKER_DIR/web.log" </dev/null &
echo $! > "$TRACKER_DIR/web.pid"
url=
for _ in $(seq 1 100); do
    url=$(sed -n 's/.*dashboard at \(http[^ ]*\).*/\1/p' "$TRACKER_DIR/web.log" | head -n 1)
    [ -n "$url" ] && break
    sleep 0.1
done
if [ -n "$url" ]; then
    say "dashboard at $url (API: ${url}api/jobs); stop it with: kill $(cat "$TRACKER_DIR/web.pid")"
else
    sed 's/^/    /' "$TRACKER_DIR/web.log"
    say "the dashboard did not start (see above)"
fi
say "done. Connect with: ${AS_POSTGRES[*]} $PG_BIN/psql -h $DEMO_DIR -p $DEMO_PORT $DB"
say "stop the demo cluster with: ${AS_POSTGRES[*]} $PG_BIN/pg_ctl -D $DEMO_DIR/data stop"
