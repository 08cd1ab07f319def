//! The settings that keep background connections from piling up and let them log in where
//! peer authentication is not allowed: the idle timeout, a non-superuser jobmon.user, the
//! password file on a server that asks every connection for a password (scram only), and
//! the error when the server has no connection slot left.

use jobmon_tests::{
    add_job, add_step, backend_alive, backend_pid, background_pids, cluster, error_text, exec,
    expect_sqlstate, server_error, test_installation, wait_until, Cluster, ClusterSetup, TestDb,
};
use postgres::error::SqlState;
use postgres::{Client, NoTls};
use std::time::{Duration, Instant};

fn count(c: &mut Client, sql: &str) -> i64 {
    c.query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .get(0)
}

/// The one background session of `caller_pid`; fails the test if there is not exactly one.
fn only_background_pid(observer: &mut Client, caller_pid: i32) -> i32 {
    let pids = background_pids(observer, caller_pid);
    assert_eq!(
        pids.len(),
        1,
        "background sessions of {caller_pid}: {pids:?}"
    );
    pids[0]
}

#[test]
fn idle_background_session_is_gone_after_the_timeout_and_the_next_call_reopens_it() {
    let db = TestDb::new("conn_idle_timeout");
    let mut observer = db.connect();
    let mark = cluster().log_mark();
    let mut c = db.connect();
    let pid = backend_pid(&mut c);
    exec(&mut c, "SET jobmon.background_idle_timeout = '1s'");
    let job = add_job(&mut c, "idle timeout");
    let first = only_background_pid(&mut observer, pid);
    let since = Instant::now();
    // The session makes no call: the server itself ends the idle background session.
    assert!(
        wait_until(Duration::from_secs(20), || !backend_alive(
            &mut observer,
            first
        )),
        "the idle background session {first} is still in pg_stat_activity after 20 s"
    );
    assert!(
        since.elapsed() >= Duration::from_millis(900),
        "closed after {:?}, before the timeout",
        since.elapsed()
    );
    // Closed by the caller's backend, not by the server: its log says nothing about it.
    let tag = format!("[{first}]");
    let said: Vec<String> = mark
        .text_since()
        .lines()
        .filter(|l| l.contains(&tag))
        .map(str::to_string)
        .collect();
    assert!(said.is_empty(), "the server logged: {said:?}");
    // The next call opens a new one, transparently.
    add_step(&mut c, job, "after the idle timeout");
    let second = only_background_pid(&mut observer, pid);
    assert_ne!(second, first);
    assert_eq!(
        count(
            &mut c,
            &format!("SELECT count(*) FROM jobmon.job_detail WHERE job_id = {job}")
        ),
        1
    );
}

#[test]
fn call_waiting_longer_than_the_idle_timeout_keeps_its_connection_and_writes_once() {
    let db = TestDb::new("conn_idle_long_call");
    let mut observer = db.connect();
    let mut c = db.connect();
    let pid = backend_pid(&mut c);
    exec(
        &mut c,
        "SET jobmon.background_idle_timeout = '1s'; SET jobmon.lock_timeout = 0",
    );
    let job = add_job(&mut c, "long call");
    let first = only_background_pid(&mut observer, pid);
    // Another session keeps job_detail locked for longer than the idle timeout.
    let mut locker = db.connect();
    exec(
        &mut locker,
        "BEGIN; LOCK TABLE jobmon.job_detail IN EXCLUSIVE MODE",
    );
    let call = std::thread::spawn(move || {
        let step = c.query_one("SELECT jobmon.add_step($1, 'waits')", &[&job]);
        (
            c,
            step.map(|r| r.get::<_, i64>(0)).map_err(|e| error_text(&e)),
        )
    });
    let waiting = wait_until(Duration::from_secs(10), || {
        observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'",
                &[&first],
            )
            .map(|r| r.get::<_, i64>(0) == 1)
            .unwrap_or(false)
    });
    assert!(
        waiting,
        "the background statement never waited for the lock"
    );
    // The wait itself is what is tested: past the idle timeout, with the call running.
    std::thread::sleep(Duration::from_millis(1500));
    exec(&mut locker, "COMMIT");
    let (mut c, step) = call.join().expect("the calling thread panicked");
    let step = step.unwrap_or_else(|e| panic!("add_step after the wait: {e}"));
    assert_eq!(
        only_background_pid(&mut observer, pid),
        first,
        "reconnected"
    );
    assert_eq!(
        count(
            &mut c,
            &format!("SELECT count(*) FROM jobmon.job_detail WHERE job_id = {job}")
        ),
        1,
        "the step {step} was written more than once"
    );
}

#[test]
fn idle_timeout_changed_while_connected_applies_to_the_open_session() {
    let db = TestDb::new("conn_idle_change");
    let mut observer = db.connect();
    let mut c = db.connect();
    let pid = backend_pid(&mut c);
    exec(&mut c, "SET jobmon.background_idle_timeout = 0");
    let job = add_job(&mut c, "keep, then time out");
    let first = only_background_pid(&mut observer, pid);
    exec(&mut c, "SET jobmon.background_idle_timeout = 1");
    // Sent on the open session before the statement: no new connection.
    add_step(&mut c, job, "bound changed");
    assert_eq!(only_background_pid(&mut observer, pid), first);
    assert!(
        wait_until(Duration::from_secs(20), || !backend_alive(
            &mut observer,
            first
        )),
        "the background session {first} outlived the new 1 s bound"
    );
    add_step(&mut c, job, "reopened");
}

#[test]
fn kept_background_session_without_idle_timeout_is_reused_after_a_pause() {
    let db = TestDb::new("conn_idle_zero");
    let mut observer = db.connect();
    let mut c = db.connect();
    let pid = backend_pid(&mut c);
    exec(&mut c, "SET jobmon.background_idle_timeout = 0");
    let job = add_job(&mut c, "kept");
    let first = only_background_pid(&mut observer, pid);
    // Longer than the 1 s bound of the other tests, with no call in between.
    std::thread::sleep(Duration::from_secs(2));
    add_step(&mut c, job, "same session");
    assert_eq!(only_background_pid(&mut observer, pid), first);
}

#[test]
fn non_superuser_jobmon_user_logs_for_roles_it_may_set_and_explains_the_others() {
    let db = TestDb::new("conn_nonsuper_user");
    let login = db.create_role("bglogin", "NOSUPERUSER");
    let logger = db.create_role("logger", "");
    let stranger = db.create_role("stranger", "");
    db.grant_logging_rights(&logger);
    db.grant_logging_rights(&stranger);
    let mut admin = db.connect();
    // The least the login role needs: the right to SET ROLE to the loggers, nothing else.
    let grant = if cluster().major >= 16 {
        format!("GRANT \"{logger}\" TO \"{login}\" WITH INHERIT FALSE, SET TRUE")
    } else {
        format!("GRANT \"{logger}\" TO \"{login}\"")
    };
    exec(&mut admin, &grant);
    for role in [&logger, &stranger] {
        exec(
            &mut admin,
            &format!(
                "ALTER ROLE \"{role}\" IN DATABASE \"{db}\" SET jobmon.\"user\" = '{login}';
                 ALTER ROLE \"{role}\" IN DATABASE \"{db}\" SET jobmon.host = '127.0.0.1';
                 ALTER ROLE \"{role}\" IN DATABASE \"{db}\" SET jobmon.port = {port};",
                db = db.name,
                port = cluster().port
            ),
        );
    }
    let mut observer = db.connect();
    let mut c = db.connect_as(&logger);
    let pid = backend_pid(&mut c);
    let job = add_job(&mut c, "through a non-superuser login");
    let step = add_step(&mut c, job, "step");
    exec(
        &mut c,
        &format!("SELECT jobmon.update_step({step}, 'OK', 'done'); SELECT jobmon.close_job({job})"),
    );
    let bg = only_background_pid(&mut observer, pid);
    let (usename, superuser): (String, bool) = {
        let r = observer
            .query_one(
                "SELECT a.usename::text, r.rolsuper FROM pg_stat_activity a
                   JOIN pg_roles r ON r.oid = a.usesysid WHERE a.pid = $1",
                &[&bg],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(usename, login, "the background session's login role");
    assert!(
        !superuser,
        "the background session logged in as a superuser"
    );
    let (owner, status): (String, String) = {
        let r = admin
            .query_one(
                "SELECT owner, status FROM jobmon.job_log WHERE job_id = $1",
                &[&job],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((owner.as_str(), status.as_str()), (logger.as_str(), "OK"));

    // A role the login role may not become is refused, with the grant that would help.
    let mut other = db.connect_as(&stranger);
    let err = expect_sqlstate(
        other.query_one("SELECT jobmon.add_job('not allowed')", &[]),
        SqlState::INSUFFICIENT_PRIVILEGE,
    );
    assert!(err.message.contains("permission denied"), "{err:?}");
    let hint = err.hint.unwrap_or_default();
    assert!(
        hint.contains(&format!("GRANT \"{stranger}\" TO \"{login}\"")),
        "hint: {hint}"
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM jobmon.job_log WHERE job_name = 'NOT ALLOWED'"
        ),
        0
    );
}

/// A cluster of this test's own, with the extension in its template database.
fn own_cluster(conf: &str, env: &[(&str, &str)]) -> Cluster {
    let paths = test_installation().unwrap_or_else(|e| panic!("{e}"));
    Cluster::start_with(paths, ClusterSetup { conf, env })
        .unwrap_or_else(|e| panic!("cannot start a cluster of its own: {e}"))
}

fn connect_with_password(cluster: &Cluster, db: &str, user: &str, password: &str) -> Client {
    cluster
        .client_config(db, user)
        .password(password)
        .connect(NoTls)
        .unwrap_or_else(|e| panic!("connect to {db} as {user}: {}", error_text(&e)))
}

/// A line field of a password file with `:` and `\` escaped, as libpq reads it.
fn passfile_field(value: &str) -> String {
    value.replace('\\', "\\\\").replace(':', "\\:")
}

#[test]
fn scram_only_server_logs_through_the_password_file_and_refuses_one_others_can_read() {
    // The server's OS user gets a home of the test's own, for the default password file.
    let home = Cluster::server_user_dir("jobmon-home-").unwrap_or_else(|e| panic!("{e}"));
    let home_text = home.to_string_lossy().into_owned();
    let server = own_cluster(
        "password_encryption = 'scram-sha-256'",
        &[("HOME", &home_text), ("PGPASSFILE", "")],
    );
    let db = "scram_only";
    server.create_database(db);
    // Colon and backslash: the password file's escapes must be read as libpq reads them.
    let password = format!("Pw:{}\\x-{}", std::process::id(), server.port);
    {
        let mut admin = server.admin();
        // ALTER ROLE takes no parameters; the test's own value has no quote in it.
        exec(
            &mut admin,
            &format!("ALTER ROLE \"{}\" PASSWORD '{password}'", server.superuser),
        );
    }
    server
        .set_hba(
            "local all all scram-sha-256\n\
             host all all 127.0.0.1/32 scram-sha-256\n\
             host replication all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let su = server.superuser.clone();
    let mut c = connect_with_password(&server, db, &su, &password);
    let mut observer = connect_with_password(&server, db, &su, &password);
    let pid = backend_pid(&mut c);
    let socket_dir = server.dir.to_string_lossy().into_owned();
    let line = format!(
        "{}:{}:*:{}:{}",
        passfile_field(&socket_dir),
        server.port,
        passfile_field(&su),
        passfile_field(&password)
    );

    // No such file: the server asks for a password, and the error says where none was.
    let missing = server.dir.join("no-such-pgpass");
    exec(
        &mut c,
        &format!("SET jobmon.passfile = '{}'", missing.display()),
    );
    let err = expect_sqlstate(
        c.query_one("SELECT jobmon.add_job('no password file')", &[]),
        SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
    );
    assert!(
        err.message.contains("the server asks for a password")
            && err
                .message
                .contains(&format!("\"{}\" does not exist", missing.display())),
        "{err:?}"
    );
    assert!(
        err.hint
            .as_deref()
            .unwrap_or("")
            .contains("host:port:database:user:password"),
        "{err:?}"
    );

    // A file others may read is refused, whatever it holds, naming the file and the fix.
    let content = format!(
        "# the first matching line wins\n\
         *:*:other_db:*:wrong-database\n\
         localhost:{port}:*:{su}:wrong-host\n\
         {line}\n\
         *:*:*:*:too-late\n",
        port = server.port
    );
    let open = server.file("pgpass-open");
    server.write_server_file(&open, &content, 0o644);
    exec(
        &mut c,
        &format!("SET jobmon.passfile = '{}'", open.display()),
    );
    let err = expect_sqlstate(
        c.query_one("SELECT jobmon.add_job('world-readable')", &[]),
        SqlState::CONFIG_FILE_ERROR,
    );
    assert_eq!(
        err.message,
        format!(
            "pg_jobmon will not read the password file \"{}\": it is accessible to group or others (mode 0644)",
            open.display()
        )
    );
    assert!(
        err.hint
            .as_deref()
            .unwrap_or("")
            .contains(&format!("chmod 0600 \"{}\"", open.display())),
        "{err:?}"
    );
    assert!(!err.message.contains(&password) && !err.hint.unwrap_or_default().contains(&password));

    // A file with no line for this target names what a line must match.
    let unmatched = server.file("pgpass-unmatched");
    server.write_server_file(&unmatched, "*:*:other_db:*:x\n", 0o600);
    exec(
        &mut c,
        &format!("SET jobmon.passfile = '{}'", unmatched.display()),
    );
    let err = server_error(c.query_one("SELECT jobmon.add_job('no line')", &[]));
    assert!(
        err.message.contains(&format!(
            "no line of the password file \"{}\" matches {socket_dir}:{}:{db}:{su}",
            unmatched.display(),
            server.port
        )),
        "{err:?}"
    );

    // The same content, private: the third line is used.
    let private = server.file("pgpass");
    server.write_server_file(&private, &content, 0o600);
    exec(
        &mut c,
        &format!("SET jobmon.passfile = '{}'", private.display()),
    );
    let job = add_job(&mut c, "through the password file");
    add_step(&mut c, job, "logged with scram");
    let bg = only_background_pid(&mut observer, pid);
    let (usename, addr): (String, Option<String>) = {
        let r = observer
            .query_one(
                "SELECT usename::text, host(client_addr) FROM pg_stat_activity WHERE pid = $1",
                &[&bg],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        (usename.as_str(), addr),
        (su.as_str(), None),
        "over the socket"
    );
    assert_eq!(
        count(
            &mut observer,
            &format!("SELECT count(*) FROM jobmon.job_detail WHERE job_id = {job}")
        ),
        1
    );

    // Without jobmon.passfile: ~/.pgpass of the server's OS user, as libpq reads it.
    let mut fresh = connect_with_password(&server, db, &su, &password);
    let default_file = home.join(".pgpass");
    let err = expect_sqlstate(
        fresh.query_one("SELECT jobmon.add_job('no ~/.pgpass yet')", &[]),
        SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
    );
    assert!(
        err.message
            .contains(&format!("\"{}\" does not exist", default_file.display())),
        "{err:?}"
    );
    server.write_server_file(&default_file, &format!("{line}\n"), 0o600);
    add_job(&mut fresh, "through ~/.pgpass");

    assert!(
        !server.log_text().contains(&password),
        "the password appears in the server log"
    );
    server.assert_log_has_no_crash();
}

#[test]
fn exhausted_connection_slots_fail_with_too_many_connections_and_the_caller_goes_on() {
    let server = own_cluster(
        "max_connections = 8\nsuperuser_reserved_connections = 2",
        &[],
    );
    let db = "no_slots";
    server.create_database(db);
    let mut c = server.connect(db, &server.superuser);
    exec(
        &mut c,
        "CREATE TABLE work (n int); CREATE ROLE bglogin LOGIN NOSUPERUSER",
    );
    // Fill every slot a non-superuser may take, then every slot.
    let mut fillers = Vec::new();
    while let Ok(filler) = server.client_config(db, "bglogin").connect(NoTls) {
        fillers.push(filler);
        assert!(
            fillers.len() < 20,
            "max_connections = 8 admitted 20 sessions"
        );
    }
    assert!(!fillers.is_empty(), "no slot was free for the test at all");

    // Only slots reserved for superusers are left: a non-superuser jobmon.user gets none.
    exec(
        &mut c,
        &format!(
            "SET jobmon.\"user\" = 'bglogin'; SET jobmon.host = '127.0.0.1'; SET jobmon.port = {}",
            server.port
        ),
    );
    exec(
        &mut c,
        "BEGIN; INSERT INTO work VALUES (1); SAVEPOINT before_log",
    );
    let err = expect_sqlstate(
        c.query_one("SELECT jobmon.add_job('no slot for a non-superuser')", &[]),
        SqlState::TOO_MANY_CONNECTIONS,
    );
    assert!(err.message.contains("reserved"), "{err:?}");
    let hint = err.hint.unwrap_or_default();
    assert!(
        hint.contains("max_connections = 8") && hint.contains("superuser_reserved_connections = 2"),
        "hint: {hint}"
    );
    // The caller's own transaction goes on after the savepoint.
    exec(
        &mut c,
        "ROLLBACK TO SAVEPOINT before_log; INSERT INTO work VALUES (2)",
    );

    // Now no slot at all, not even for a superuser login.
    while let Ok(filler) = server.client_config(db, &server.superuser).connect(NoTls) {
        fillers.push(filler);
        assert!(
            fillers.len() < 20,
            "max_connections = 8 admitted 20 sessions"
        );
    }
    exec(
        &mut c,
        "RESET jobmon.\"user\"; RESET jobmon.host; RESET jobmon.port",
    );
    exec(&mut c, "SAVEPOINT again");
    let err = expect_sqlstate(
        c.query_one("SELECT jobmon.add_job('no slot at all')", &[]),
        SqlState::TOO_MANY_CONNECTIONS,
    );
    assert!(err.message.contains("too many clients"), "{err:?}");
    assert!(err.hint.unwrap_or_default().contains("max_connections"));
    exec(
        &mut c,
        "ROLLBACK TO SAVEPOINT again; INSERT INTO work VALUES (3); COMMIT",
    );
    // Everything but the two failed calls.
    assert_eq!(count(&mut c, "SELECT count(*) FROM work"), 3);
    assert_eq!(count(&mut c, "SELECT count(*) FROM jobmon.job_log"), 0);

    // A slot given back is used by the next call. The slot is free once the filler's
    // backend process is gone (its pg_stat_activity row goes a little earlier).
    let mut last = fillers.pop().expect("at least one filler");
    let filler_pid = backend_pid(&mut last);
    drop(last);
    assert!(
        wait_until(Duration::from_secs(10), || !std::path::Path::new(&format!(
            "/proc/{filler_pid}"
        ))
        .exists()),
        "the backend {filler_pid} of a closed connection did not exit"
    );
    add_job(&mut c, "a slot is free again");
    assert_eq!(count(&mut c, "SELECT count(*) FROM jobmon.job_log"), 1);
    server.assert_log_has_no_crash();
}
