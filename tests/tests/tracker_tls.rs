//! The tracker's TLS against a real server with `ssl = on` and a `hostssl`-only pg_hba.conf
//! (only the harness's superuser may still connect without TLS): each `sslmode`, the
//! server certificate checks, client-certificate authentication, the key file permission
//! rule, and `run --once`, `check` and `nagios` over verify-full.

use jobmon_tests::tls::{enable_ssl, plain_cluster, set_mode, Pki};
use jobmon_tests::tracker::{fill_queue, message_count, tempdir, toml_str};
use jobmon_tests::{cluster, Cluster, TestDb};
use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use tracker_worker::config::Database;
use tracker_worker::store::connect::{pg_config, Env, PG_ENV_VARS};
use tracker_worker::store::pg_error_text;

const BIN: &str = env!("CARGO_BIN_EXE_tracker");
/// A role that may only connect over TLS (trust), and one that needs a client certificate.
const TLS_ROLE: &str = "tls_tracker";
const CERT_ROLE: &str = "tls_cert";
/// A role that needs a password (scram-sha-256), for the pgpass rules.
const PW_ROLE: &str = "tls_pw";

struct Setup {
    pki: Pki,
    /// Keeps the PKI directory until the process ends.
    _dir: tempfile::TempDir,
}

/// The binary's cluster switched to TLS once, with the CA, a server certificate for
/// `localhost` and 127.0.0.1, a client certificate for [`CERT_ROLE`] and a second CA.
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let c = cluster();
        let dir = tempdir();
        let pki = Pki::new(&dir.path().join("pki"));
        pki.leaf("server", "localhost", Some("DNS:localhost,IP:127.0.0.1"));
        pki.leaf("client", CERT_ROLE, None);
        pki.ca("other_ca");
        let hba = format!(
            "local all all trust\n\
             hostssl all {CERT_ROLE} 127.0.0.1/32 cert clientcert=verify-full\n\
             hostssl all {CERT_ROLE} ::1/128 cert clientcert=verify-full\n\
             hostssl all {PW_ROLE} 127.0.0.1/32 scram-sha-256\n\
             hostssl all {PW_ROLE} ::1/128 scram-sha-256\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostssl all all ::1/128 trust\n\
             host all {su} 127.0.0.1/32 trust\n",
            su = c.superuser
        );
        enable_ssl(c, &pki, &hba);
        c.admin()
            .batch_execute(&format!(
                "CREATE ROLE {TLS_ROLE} LOGIN SUPERUSER; CREATE ROLE {CERT_ROLE} LOGIN; \
                 CREATE ROLE {PW_ROLE} LOGIN SUPERUSER PASSWORD 'pw-Secret';"
            ))
            .expect("create the TLS roles");
        Setup { pki, _dir: dir }
    })
}

/// An environment with nothing but a HOME without `~/.postgresql` (so no default files).
struct TestEnv(HashMap<&'static str, String>);

impl Env for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn empty_home() -> &'static PathBuf {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| tempdir().keep())
}

/// Connects with the tracker's connection code; whether the session uses TLS, or the error.
fn tls_in_use(cluster: &Cluster, conninfo: &str) -> Result<bool, String> {
    let db = Database {
        conninfo: Some(format!(
            "port={} dbname=postgres connect_timeout=10 {conninfo}",
            cluster.port
        )),
        ..Database::default()
    };
    let env = TestEnv(HashMap::from([
        ("HOME", empty_home().to_string_lossy().into_owned()),
        ("PGPASSFILE", "/dev/null".to_string()),
    ]));
    let config = pg_config(&db, &env)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (client, connection) = config.connect().await.map_err(|e| pg_error_text(&e))?;
        tokio::spawn(connection);
        let row = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .map_err(|e| pg_error_text(&e))?;
        Ok(row.get::<_, bool>(0))
    })
}

fn ca(s: &Setup) -> String {
    s.pki.path("ca.crt").to_string_lossy().into_owned()
}

#[test]
fn require_verify_ca_and_verify_full_connect_over_tls_to_a_hostssl_only_server() {
    let s = setup();
    let c = cluster();
    let root = ca(s);
    for conninfo in [
        format!("host=127.0.0.1 user={TLS_ROLE} sslmode=require"),
        format!("host=127.0.0.1 user={TLS_ROLE} sslmode=verify-ca sslrootcert={root}"),
        // The certificate's DNS name and its IP address SAN.
        format!("host=localhost user={TLS_ROLE} sslmode=verify-full sslrootcert={root}"),
        format!("host=127.0.0.1 user={TLS_ROLE} sslmode=verify-full sslrootcert={root}"),
    ] {
        assert_eq!(tls_in_use(c, &conninfo), Ok(true), "{conninfo}");
    }
    // The URI syntax carries the same keys.
    let uri = format!(
        "postgresql://{TLS_ROLE}@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        c.port,
        root.replace('/', "%2F")
    );
    let config = pg_config(
        &Database {
            conninfo: Some(uri),
            ..Database::default()
        },
        &TestEnv(HashMap::from([("PGPASSFILE", "/dev/null".to_string())])),
    )
    .unwrap();
    assert_eq!(
        config.ssl_mode(),
        tracker_worker::store::tls::SslMode::VerifyFull
    );
}

#[test]
fn a_root_certificate_of_another_ca_fails_naming_the_certificate_problem() {
    let s = setup();
    let other = s.pki.path("other_ca.crt").to_string_lossy().into_owned();
    for mode in ["verify-ca", "verify-full", "require"] {
        // require with a root certificate checks the chain too, as in libpq.
        let e = tls_in_use(
            cluster(),
            &format!("host=localhost user={TLS_ROLE} sslmode={mode} sslrootcert={other}"),
        )
        .unwrap_err();
        assert!(e.contains("certificate verify failed"), "{mode}: {e}");
        // OpenSSL's verify result: the chain ends in a CA that is not the root given.
        assert!(
            e.contains("self-signed certificate in certificate chain")
                || e.contains("unable to get local issuer certificate"),
            "{mode}: {e}"
        );
    }
}

#[test]
fn verify_full_to_a_name_not_in_the_certificate_fails_where_verify_ca_connects() {
    let s = setup();
    let root = ca(s);
    // hostaddr reaches the server; the name checked is `host`, as in libpq.
    let base = format!("host=db.example.invalid hostaddr=127.0.0.1 user={TLS_ROLE}");
    let e = tls_in_use(
        cluster(),
        &format!("{base} sslmode=verify-full sslrootcert={root}"),
    )
    .unwrap_err();
    assert!(e.contains("certificate verify failed"), "{e}");
    assert!(e.contains("hostname mismatch"), "{e}");
    assert_eq!(
        tls_in_use(
            cluster(),
            &format!("{base} sslmode=verify-ca sslrootcert={root}")
        ),
        Ok(true)
    );
}

#[test]
fn a_crl_that_revokes_the_server_certificate_fails_the_connection() {
    let s = setup();
    let root = ca(s);
    let base = format!("host=localhost user={TLS_ROLE} sslmode=verify-full sslrootcert={root}");
    s.pki.crl(&[], "empty.crl");
    let empty = s.pki.path("empty.crl");
    assert_eq!(
        tls_in_use(cluster(), &format!("{base} sslcrl={}", empty.display())),
        Ok(true)
    );
    // A copy of the server certificate, so revoking it leaves the server's own file alone.
    fs::copy(s.pki.path("server.crt"), s.pki.path("revoked.crt")).unwrap();
    s.pki.crl(&["revoked"], "revoked.crl");
    let revoked = s.pki.path("revoked.crl");
    let e = tls_in_use(cluster(), &format!("{base} sslcrl={}", revoked.display())).unwrap_err();
    assert!(e.contains("certificate revoked"), "{e}");
    let e = tls_in_use(cluster(), &format!("{base} sslcrl=/nonexistent/x.crl")).unwrap_err();
    assert!(
        e.contains("certificate revocation list file \"/nonexistent/x.crl\" does not exist"),
        "{e}"
    );
}

#[test]
fn prefer_uses_tls_when_offered_and_not_otherwise_and_allow_retries_with_tls() {
    setup();
    let c = cluster();
    assert_eq!(
        tls_in_use(c, &format!("host=127.0.0.1 user={TLS_ROLE} sslmode=prefer")),
        Ok(true)
    );
    // The default is prefer.
    assert_eq!(
        tls_in_use(c, &format!("host=127.0.0.1 user={TLS_ROLE}")),
        Ok(true)
    );
    // allow: without TLS first (the superuser may), with TLS when refused (the TLS role).
    assert_eq!(
        tls_in_use(
            c,
            &format!("host=127.0.0.1 user={} sslmode=allow", c.superuser)
        ),
        Ok(false)
    );
    assert_eq!(
        tls_in_use(c, &format!("host=127.0.0.1 user={TLS_ROLE} sslmode=allow")),
        Ok(true)
    );
    let plain = plain_cluster();
    assert_eq!(
        tls_in_use(
            &plain,
            &format!("host=127.0.0.1 user={} sslmode=prefer", plain.superuser)
        ),
        Ok(false)
    );
    let e = tls_in_use(
        &plain,
        &format!("host=127.0.0.1 user={} sslmode=require", plain.superuser),
    )
    .unwrap_err();
    assert!(e.contains("server does not support TLS"), "{e}");
}

#[test]
fn disable_against_a_hostssl_only_server_fails_with_the_servers_message() {
    setup();
    let e = tls_in_use(
        cluster(),
        &format!("host=127.0.0.1 user={TLS_ROLE} sslmode=disable"),
    )
    .unwrap_err();
    assert!(
        e.contains("no pg_hba.conf entry for host \"127.0.0.1\""),
        "{e}"
    );
    assert!(e.contains("no encryption"), "{e}");
    assert!(e.contains("SQLSTATE 28000"), "{e}");
}

#[test]
fn a_client_certificate_authenticates_and_a_key_readable_by_others_is_refused() {
    let s = setup();
    let root = ca(s);
    let cert = s.pki.path("client.crt").to_string_lossy().into_owned();
    let key = s.pki.path("client.key");
    let keyname = key.to_string_lossy().into_owned();
    let base = format!("host=localhost user={CERT_ROLE} sslmode=verify-full sslrootcert={root}");
    let e = tls_in_use(cluster(), &base).unwrap_err();
    assert!(
        e.contains("connection requires a valid client certificate"),
        "{e}"
    );
    let with_cert = format!("{base} sslcert={cert} sslkey={keyname}");
    assert_eq!(tls_in_use(cluster(), &with_cert), Ok(true));
    // A copy of the key readable by the group and others, as libpq refuses it.
    let open = s.pki.path("client_open.key");
    fs::copy(&key, &open).unwrap();
    set_mode(&open, 0o644);
    let e = tls_in_use(
        cluster(),
        &format!("{base} sslcert={cert} sslkey={}", open.display()),
    )
    .unwrap_err();
    assert_eq!(
        e,
        format!(
            "private key file \"{}\" has group or world access; file must have permissions \
             u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) \
             or less if owned by root",
            open.display()
        )
    );
}

#[test]
fn the_default_root_certificate_and_client_files_come_from_home_dot_postgresql() {
    let s = setup();
    let home = tempdir();
    let dot = home.path().join(".postgresql");
    fs::create_dir(&dot).unwrap();
    fs::copy(s.pki.path("ca.crt"), dot.join("root.crt")).unwrap();
    fs::copy(s.pki.path("client.crt"), dot.join("postgresql.crt")).unwrap();
    fs::copy(s.pki.path("client.key"), dot.join("postgresql.key")).unwrap();
    let out = nagios(
        &[
            "-d",
            &format!(
                "host=localhost port={} user={CERT_ROLE} dbname=postgres sslmode=verify-full",
                cluster().port
            ),
        ],
        &[("HOME", &home.path().to_string_lossy())],
    );
    // Connected and authenticated: the role may not see the extension's function.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains("cannot connect"), "{text}");
}

fn nagios(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("nagios").args(args);
    clean_env(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run jobmon-tracker nagios")
}

fn clean_env(cmd: &mut Command) {
    for var in PG_ENV_VARS {
        cmd.env_remove(var);
    }
    cmd.env("PGPASSFILE", "/dev/null").env("HOME", empty_home());
}

fn tracker(args: &[&str], config: &std::path::Path) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).arg("-c").arg(config);
    clean_env(&mut cmd);
    cmd.output().expect("run the tracker")
}

/// A tracker configuration for `db` as `role` over verify-full (plus `extra` database keys),
/// with one local source `q.sqlite` in `dir`.
fn tracker_config(dir: &std::path::Path, db: &TestDb, role: &str, extra: &str) -> PathBuf {
    let s = setup();
    let config = dir.join("tracker.toml");
    fs::write(
        &config,
        format!(
            "[global]\npoll_interval = \"1s\"\n\n\
             [database]\nhost = \"localhost\"\nport = {}\nuser = {}\ndbname = {}\n\
             sslmode = \"verify-full\"\nsslrootcert = {}\n{extra}\n\
             [[sources]]\nname = \"local\"\nlocal_queue = {}\n\n\
             [[jobs]]\nname = \"JOB_0\"\nenv = \"P\"\nsource = \"local\"\ncyclic = {{ interval = \"1h\" }}\n",
            cluster().port,
            toml_str(role),
            toml_str(&db.name),
            toml_str(&ca(s)),
            toml_str(&dir.join("q.sqlite").to_string_lossy()),
        ),
    )
    .unwrap();
    config
}

#[test]
fn a_pgpass_file_others_may_read_is_ignored_with_a_warning() {
    setup();
    let db = TestDb::new("tls_pgpass");
    let dir = tempdir();
    fill_queue(&dir.path().join("q.sqlite"), 0, 5, 1);
    let pgpass = dir.path().join("pgpass");
    fs::write(&pgpass, format!("*:*:*:{PW_ROLE}:pw-Secret\n")).unwrap();
    let config = tracker_config(
        dir.path(),
        &db,
        PW_ROLE,
        &format!("password_file = {}\n", toml_str(&pgpass.to_string_lossy())),
    );
    set_mode(&pgpass, 0o644);
    let out = tracker(&["run", "--once"], &config);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "password file \"{}\" has group or world access",
            pgpass.display()
        )),
        "{err}"
    );
    assert!(!err.contains("pw-Secret"), "{err}");
    set_mode(&pgpass, 0o600);
    let out = tracker(&["run", "--once"], &config);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("group or world access"), "{err}");
    assert_eq!(message_count(&mut db.connect(), "local"), 5);
}

#[test]
fn a_service_from_a_service_file_carries_host_user_and_tls_settings() {
    let s = setup();
    let dir = tempdir();
    let file = dir.path().join("pg_service.conf");
    fs::write(
        &file,
        format!(
            "[other]\nhost=nowhere.invalid\n\n[jobmon_tls]\nhost=localhost\nport={}\nuser={TLS_ROLE}\n\
             dbname=postgres\nsslmode=verify-full\nsslrootcert={}\n",
            cluster().port,
            ca(s)
        ),
    )
    .unwrap();
    let file = file.to_string_lossy().into_owned();
    for (args, env) in [
        (
            vec!["-d", "service=jobmon_tls"],
            vec![("PGSERVICEFILE", file.as_str())],
        ),
        (
            vec![],
            vec![
                ("PGSERVICEFILE", file.as_str()),
                ("PGSERVICE", "jobmon_tls"),
            ],
        ),
    ] {
        let out = nagios(&args, &env);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // Connected over verify-full as the TLS role (postgres has no pg_jobmon).
        assert!(text.contains("pg_jobmon"), "{text}");
        assert!(!text.contains("cannot connect"), "{text}");
    }
    let out = nagios(&["-d", "service=absent"], &[("PGSERVICEFILE", &file)]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("definition of service \"absent\" not found"),
        "{text}"
    );
}

#[test]
fn run_once_check_and_nagios_work_over_verify_full_end_to_end() {
    let s = setup();
    let db = TestDb::new("tls_end_to_end");
    let dir = tempdir();
    fill_queue(&dir.path().join("q.sqlite"), 0, 20, 2);
    let config = tracker_config(dir.path(), &db, TLS_ROLE, "");
    let out = tracker(&["run", "--once"], &config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(message_count(&mut db.connect(), "local"), 20);

    let out = tracker(&["check", "--timeout", "10s"], &config);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("\"JOB_0_P\""), "{text}");
    assert!(!text.contains("UNREACHABLE"), "{text}");

    let out = nagios(
        &[
            "-d",
            &format!(
                "host=localhost port={} user={TLS_ROLE} dbname={} sslmode=verify-full sslrootcert={}",
                cluster().port,
                db.name,
                ca(s)
            ),
        ],
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.starts_with("JOBMON "), "{text}");
    // Connected and ran check_job_status(): the job's own row is reported.
    assert!(!text.contains("cannot connect"), "{text}");
    assert!(text.contains("JOB_0__P"), "{text}");
    // Without the CA the same check cannot verify the server and says so.
    let out = nagios(
        &[
            "-d",
            &format!(
                "host=localhost port={} user={TLS_ROLE} dbname={} sslmode=verify-full",
                cluster().port,
                db.name
            ),
        ],
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("root certificate file"), "{text}");
    assert!(text.contains("does not exist"), "{text}");
}
