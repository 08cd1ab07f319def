//! Harness of the pg_jobmon integration tests: one real PostgreSQL cluster per test
//! binary (Debian's 15, or the major `$PG_CONFIG` names; started lazily, removed by a
//! watchdog when the test process ends however it ends), a fresh database with the
//! extension per test, and helpers to read the server log.

pub mod proxy;
pub mod sshd;
pub mod tls;
pub mod tracker;
pub mod web;

use postgres::error::SqlState;
use postgres::{Client, NoTls};
use std::fmt::Debug;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The database every test database is copied from: created once per cluster with
/// `CREATE SCHEMA jobmon; CREATE EXTENSION pg_jobmon SCHEMA jobmon;`.
const TEMPLATE_DB: &str = "jobmon_template";

/// Application name of the tests' own connections, so they are never mistaken for the
/// extension's background sessions.
const CLIENT_APP: &str = "jobmon-tests";

/// Lines of the server log that mean a backend crashed or the postmaster restarted.
const CRASH_MARKERS: &[&str] = &[
    "terminated by signal",
    "all server processes terminated; reinitializing",
    "PANIC",
];

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// How pg_jobmon writes its log rows in the clusters the tests start (and
/// `JOBMON_TEST_CONF` adds lines to their postgresql.conf):
/// `JOBMON_TEST_MODE=shared` preloads the library (the writer processes), anything else
/// (the default, `session`) leaves it to each session's background connection.
pub fn shared_mode() -> bool {
    match CLUSTER_SETTINGS.get() {
        Some(settings) if settings.shared => true,
        _ => std::env::var("JOBMON_TEST_MODE").is_ok_and(|m| m == "shared"),
    }
}

/// Settings of this test binary's cluster beyond the harness's own.
pub struct ClusterSettings {
    /// Preload the library (shared mode) whatever JOBMON_TEST_MODE says.
    pub shared: bool,
    /// Lines appended to postgresql.conf.
    pub conf: &'static str,
}

static CLUSTER_SETTINGS: OnceLock<ClusterSettings> = OnceLock::new();

/// Chooses the settings of this binary's cluster; call it before anything starts the
/// cluster (every test of a binary that needs it calls it first: the first call wins).
pub fn configure_cluster(settings: ClusterSettings) {
    let _ = CLUSTER_SETTINGS.set(settings);
}
static DB_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A small deterministic generator (a 64-bit LCG): the same sequence from the same seed on
/// every machine, for generated histories and fault schedules that can be replayed.
pub struct Lcg(pub u64);

impl Lcg {
    /// Uniform in 0..n (0 for n = 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

/// Starts a detached shell that runs `cleanup` once this test process has ended, however
/// it ended (a panic, `kill -9`): servers the tests start must not outlive them.
pub fn spawn_watchdog(cleanup: &str) -> Result<Child, String> {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {cleanup}",
        pid = std::process::id(),
    );
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe; it detaches the watchdog from the test
    // process's session so that a Ctrl-C aimed at the tests does not kill it too.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(|e| format!("cannot start the cleanup watchdog: {e}"))
}

/// A running PostgreSQL cluster owned by this test process.
pub struct Cluster {
    /// Temporary directory holding the data directory, the Unix socket and the log.
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
    pub bindir: PathBuf,
    /// The PostgreSQL major version of the server, e.g. 17.
    pub major: u32,
    /// Where this installation keeps its libraries (`pg_config --pkglibdir`).
    pub pkglibdir: PathBuf,
    /// Where its libpq lives (`pg_config --libdir`).
    libdir: PathBuf,
    pub port: u16,
    /// The bootstrap superuser (`postgres` when the tests run as root, else the OS user).
    pub superuser: String,
    /// Server tools must run as the `postgres` OS user (initdb refuses root).
    run_as_postgres: bool,
    /// Variables added to the environment of the server and its tools.
    env: Vec<(String, String)>,
}

/// How a cluster a test starts for itself differs from the default test cluster.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClusterSetup<'a> {
    /// Lines appended to postgresql.conf.
    pub conf: &'a str,
    /// Variables added to the server's environment.
    pub env: &'a [(&'a str, &'a str)],
}

/// The cluster of this test binary, started on first use.
pub fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(|| test_installation().and_then(Cluster::start)) {
        Ok(c) => c,
        Err(msg) => panic!("test cluster unavailable: {msg}"),
    }
}

/// Where one PostgreSQL installation keeps its programs, extension files and libraries.
#[derive(Clone, Debug)]
pub struct PgPaths {
    pub pg_config: PathBuf,
    /// The major version, e.g. 17.
    pub major: u32,
    pub bindir: PathBuf,
    pub sharedir: PathBuf,
    pub pkglibdir: PathBuf,
    /// Where its client library lives (`pg_config --libdir`).
    pub libdir: PathBuf,
}

fn pg_config_value(pg_config: &Path, flag: &str) -> Option<String> {
    let out = Command::new(pg_config).arg(flag).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl PgPaths {
    /// The installation a `pg_config` describes.
    pub fn of(pg_config: &Path) -> Result<PgPaths, String> {
        let value = |flag: &str| {
            pg_config_value(pg_config, flag)
                .ok_or_else(|| format!("`{} {flag}` did not run", pg_config.display()))
        };
        let version = value("--version")?;
        let major = version
            .strip_prefix("PostgreSQL ")
            .and_then(|v| v.split(['.', ' ']).next())
            .and_then(|m| m.parse().ok())
            .ok_or_else(|| format!("{}: unexpected --version {version:?}", pg_config.display()))?;
        Ok(PgPaths {
            pg_config: pg_config.to_path_buf(),
            major,
            bindir: value("--bindir")?.into(),
            sharedir: value("--sharedir")?.into(),
            pkglibdir: value("--pkglibdir")?.into(),
            libdir: value("--libdir")?.into(),
        })
    }
}

/// The installation the tests run against: `$PG_CONFIG` if set (tests/run.sh sets it for
/// each major it tests), else Debian's PostgreSQL 15.
pub fn test_installation() -> Result<PgPaths, String> {
    let pg_config = std::env::var_os("PG_CONFIG")
        .unwrap_or_else(|| "/usr/lib/postgresql/15/bin/pg_config".into());
    PgPaths::of(Path::new(&pg_config))
}

/// Every installation tests/run.sh prepared (`$JOBMON_TEST_PG_CONFIGS`, pg_config paths
/// separated by `:`), for the tests that compare majors with each other.
pub fn all_pg_installations() -> Result<Vec<PgPaths>, String> {
    let list = std::env::var("JOBMON_TEST_PG_CONFIGS").map_err(|_| {
        "JOBMON_TEST_PG_CONFIGS is not set: these tests compare the PostgreSQL majors \
         tests/run.sh installs pg_jobmon into; run them with `bash tests/run.sh`"
            .to_string()
    })?;
    list.split(':')
        .filter(|p| !p.is_empty())
        .map(|p| PgPaths::of(Path::new(p)))
        .collect()
}

fn current_os_user() -> String {
    // SAFETY: getpwuid returns a pointer into static storage or NULL; it is read at once.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() {
            return std::env::var("USER").unwrap_or_else(|_| "postgres".into());
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// A loopback TCP port nothing listens on (bound and released again).
pub fn closed_port() -> u16 {
    free_port().unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"))
}

fn describe(out: &Output) -> String {
    format!(
        "exit {}; stdout: {}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

impl Cluster {
    /// Starts a cluster of the given installation (with the extension in its template
    /// database), removed when the test process ends.
    pub fn start(paths: PgPaths) -> Result<Cluster, String> {
        Self::start_with(paths, ClusterSetup::default())
    }

    /// Starts a cluster as `start` does, with the settings and environment of `setup`.
    pub fn start_with(paths: PgPaths, setup: ClusterSetup) -> Result<Cluster, String> {
        let control = paths.sharedir.join("extension/pg_jobmon.control");
        let library = paths.pkglibdir.join("pg_jobmon.so");
        for needed in [&control, &library] {
            if !needed.exists() {
                return Err(format!(
                    "pg_jobmon is not installed into PostgreSQL {} ({} is missing). Run the \
                     README's test command, `bash tests/run.sh` (also what .ci/run runs): it \
                     builds and installs the extension before it runs `cargo test`.",
                    paths.major,
                    needed.display()
                ));
            }
        }

        let mut cluster = Cluster::unstarted(
            &paths.bindir,
            paths.major,
            &paths.pkglibdir,
            &paths.libdir,
            setup,
        )?;
        cluster.initdb(setup.conf)?;
        cluster.start_on_a_free_port()?;
        cluster.create_template()?;
        Ok(cluster)
    }

    /// A streaming hot standby of this cluster (`pg_basebackup -R`), with its own
    /// directory, socket and port, removed when the test process ends like every cluster.
    pub fn start_standby_of(&self, setup: ClusterSetup) -> Result<Cluster, String> {
        let mut standby = Cluster::unstarted(
            &self.bindir,
            self.major,
            &self.pkglibdir,
            &self.libdir,
            setup,
        )?;
        let data = standby.data_dir.to_string_lossy().into_owned();
        let port = self.port.to_string();
        standby.run_tool(
            "pg_basebackup",
            &[
                "-D",
                &data,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                &self.superuser,
            ],
        )?;
        // The copied configuration names the primary's socket directory; later lines win.
        standby.append_conf(&format!(
            "\n# standby of the cluster on port {}\nunix_socket_directories = '{}'\nhot_standby = on\n{}\n",
            self.port,
            standby.dir.display(),
            setup.conf
        ))?;
        standby.start_on_a_free_port()?;
        Ok(standby)
    }

    /// A cluster directory, owned by the server's OS user, with its watchdog; nothing in it.
    fn unstarted(
        bindir: &Path,
        major: u32,
        pkglibdir: &Path,
        libdir: &Path,
        setup: ClusterSetup,
    ) -> Result<Cluster, String> {
        let run_as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("jobmon-tests-")
            .tempdir_in("/tmp")
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?
            .keep();
        let superuser = if run_as_postgres {
            "postgres".to_string()
        } else {
            current_os_user()
        };
        let cluster = Cluster {
            data_dir: dir.join("data"),
            log_path: dir.join("server.log"),
            dir,
            bindir: bindir.to_path_buf(),
            major,
            pkglibdir: pkglibdir.to_path_buf(),
            libdir: libdir.to_path_buf(),
            port: 0,
            superuser,
            run_as_postgres,
            env: setup
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        cluster.chown_to_server_user(&cluster.dir)?;
        // The watchdog goes first so that even a failed start leaves nothing behind.
        cluster.spawn_watchdog()?;
        Ok(cluster)
    }

    /// Gives a file or directory (recursively) to the OS user the server runs as.
    fn chown_to_server_user(&self, path: &Path) -> Result<(), String> {
        if !self.run_as_postgres {
            return Ok(());
        }
        let out = Command::new("chown")
            .args(["-R", "postgres:"])
            .arg(path)
            .output()
            .map_err(|e| format!("chown: {e}"))?;
        if !out.status.success() {
            return Err(format!("chown of {}: {}", path.display(), describe(&out)));
        }
        Ok(())
    }

    fn start_on_a_free_port(&mut self) -> Result<(), String> {
        let mut last_error = String::new();
        for _ in 0..3 {
            self.port = free_port()?;
            match self.pg_ctl_start() {
                Ok(()) => return Ok(()),
                Err(e) => last_error = e,
            }
        }
        Err(format!(
            "could not start PostgreSQL {}: {last_error}",
            self.major
        ))
    }

    /// Writes `contents` to `path` as a file of the server's OS user with the given mode.
    pub fn write_server_file(&self, path: &Path, contents: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self.chown_to_server_user(path)
            .unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
    }

    /// A directory of the server's OS user, removed when the test process ends, e.g. for
    /// a HOME of the server (make it before the cluster, to put it into its environment).
    pub fn server_user_dir(prefix: &str) -> Result<PathBuf, String> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/tmp")
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?
            .keep();
        spawn_watchdog(&format!("rm -rf '{}'", dir.display()))?;
        if is_root() {
            let out = Command::new("chown")
                .arg("postgres:")
                .arg(&dir)
                .output()
                .map_err(|e| format!("chown: {e}"))?;
            if !out.status.success() {
                return Err(format!("chown of {}: {}", dir.display(), describe(&out)));
            }
        }
        Ok(dir)
    }

    /// Replaces pg_hba.conf and makes the server read it again.
    pub fn set_hba(&self, text: &str) -> Result<(), String> {
        let hba = self.data_dir.join("pg_hba.conf");
        fs::write(&hba, text).map_err(|e| format!("write {}: {e}", hba.display()))?;
        let data = self.data_dir.to_string_lossy().into_owned();
        self.run_tool("pg_ctl", &["-D", &data, "reload"])
            .map(|_| ())
    }

    /// Waits until `standby` has replayed everything this cluster has written so far.
    pub fn wait_until_replayed_on(&self, standby: &Cluster) {
        let lsn: String = self
            .admin()
            .query_one("SELECT pg_catalog.pg_current_wal_lsn()::text", &[])
            .unwrap_or_else(|e| panic!("pg_current_wal_lsn(): {}", error_text(&e)))
            .get(0);
        let mut observer = standby.admin();
        let replayed = wait_until(Duration::from_secs(60), || {
            observer
                .query_one(
                    "SELECT pg_catalog.pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
                    &[&lsn],
                )
                .map(|r| r.get::<_, Option<bool>>(0) == Some(true))
                .unwrap_or(false)
        });
        assert!(
            replayed,
            "the standby did not replay up to {lsn} within 60 s"
        );
    }

    /// A database copied from the template that holds the extension (the name must be new).
    pub fn create_database(&self, name: &str) {
        self.admin()
            .batch_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE {TEMPLATE_DB}"
            ))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {}", error_text(&e)));
    }

    /// A server program of this installation, run as the `postgres` OS user when the
    /// tests run as root, with the cluster directory as working directory.
    pub fn tool(&self, program: &str) -> Command {
        let path = self.bindir.join(program);
        let mut cmd = if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]);
            if !self.env.is_empty() {
                // runuser resets HOME and friends: set the setup's variables after it.
                c.arg("env")
                    .args(self.env.iter().map(|(k, v)| format!("{k}={v}")));
            }
            c.arg(path);
            c
        } else {
            Command::new(path)
        };
        cmd.current_dir(&self.dir);
        // The relocatable builds' own modules (dblink, the WAL receiver) find the build's
        // libpq only this way; without it they load the system's, which may be older.
        cmd.env("LD_LIBRARY_PATH", &self.libdir);
        // The server inherits this environment: a RUST_BACKTRACE from the developer's shell
        // would add Rust backtraces to the DETAIL of errors raised inside the extension.
        cmd.env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs a tool and returns its output, or an error describing how it failed.
    pub fn run_tool(&self, program: &str, args: &[&str]) -> Result<Output, String> {
        let out = self
            .tool(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(format!("{program} {args:?} failed: {}", describe(&out)))
        }
    }

    /// A client program of this installation (pg_dump, pg_restore, ...) connected to the
    /// cluster as its superuser over TCP, with `args` after the connection options.
    pub fn run_client_tool(&self, program: &str, args: &[&str]) -> Result<Output, String> {
        let port = self.port.to_string();
        let mut all = vec!["-h", "127.0.0.1", "-p", &port, "-U", &self.superuser];
        all.extend_from_slice(args);
        self.run_tool(program, &all)
    }

    fn spawn_watchdog(&self) -> Result<(), String> {
        let pg_ctl = self.bindir.join("pg_ctl");
        let stop = if self.run_as_postgres {
            format!(
                "runuser -u postgres -- '{}' -D '{}' stop -m immediate",
                pg_ctl.display(),
                self.data_dir.display()
            )
        } else {
            format!(
                "'{}' -D '{}' stop -m immediate",
                pg_ctl.display(),
                self.data_dir.display()
            )
        };
        let cleanup = format!(
            "if [ -f '{data}/postmaster.pid' ]; then {stop}; fi; rm -rf '{dir}'",
            data = self.data_dir.display(),
            dir = self.dir.display(),
        );
        spawn_watchdog(&cleanup)?;
        Ok(())
    }

    fn initdb(&self, extra_conf: &str) -> Result<(), String> {
        let data = self.data_dir.to_string_lossy().into_owned();
        let mut args = vec![
            "-D",
            &data,
            "--auth-local=peer",
            "--auth-host=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ];
        let user_arg = format!("--username={}", self.superuser);
        args.push(&user_arg);
        self.run_tool("initdb", &args)?;
        let settings = format!(
            "\n# jobmon integration tests\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             max_connections = 200\n\
             logging_collector = off\n\
             log_line_prefix = '%m [%p] %q%a@%d '\n\
             lc_messages = 'C'\n\
             fsync = off\n\
             full_page_writes = off\n\
             {extra_conf}\n{}",
            self.dir.display(),
            if shared_mode() {
                "shared_preload_libraries = 'pg_jobmon'\n"
            } else {
                ""
            }
        ) + CLUSTER_SETTINGS.get().map_or("", |s| s.conf)
            // Extra lines for a one-off run (e.g. the benchmark with jobmon.writers = 1).
            + &std::env::var("JOBMON_TEST_CONF").unwrap_or_default()
            + "\n";
        self.append_conf(&settings)
    }

    fn append_conf(&self, settings: &str) -> Result<(), String> {
        let conf = self.data_dir.join("postgresql.conf");
        let mut text =
            fs::read_to_string(&conf).map_err(|e| format!("read {}: {e}", conf.display()))?;
        text.push_str(settings);
        fs::write(&conf, text).map_err(|e| format!("write {}: {e}", conf.display()))?;
        Ok(())
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let data = self.data_dir.to_string_lossy().into_owned();
        let log = self.log_path.to_string_lossy().into_owned();
        let opts = format!("-p {}", self.port);
        self.run_tool(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &opts, "start",
            ],
        )
        .map(|_| ())
        .map_err(|e| format!("{e}; server log:\n{}", self.log_text()))
    }

    /// Stops the server (fast shutdown) and starts it again on the same port.
    pub fn restart(&self) -> Result<(), String> {
        let data = self.data_dir.to_string_lossy().into_owned();
        self.run_tool("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"])?;
        self.pg_ctl_start()
    }

    fn create_template(&self) -> Result<(), String> {
        let mut admin = self
            .try_connect("postgres", &self.superuser)
            .map_err(|e| format!("connect: {e}"))?;
        // The server that answers is the major the tests were pointed at.
        let version_num: String = admin
            .query_one("SHOW server_version_num", &[])
            .map_err(|e| format!("SHOW server_version_num: {}", error_text(&e)))?
            .get(0);
        if version_num.parse::<u32>().ok().map(|v| v / 10000) != Some(self.major) {
            return Err(format!(
                "the server started from {} reports server_version_num {version_num}, not \
                 PostgreSQL {}",
                self.bindir.display(),
                self.major
            ));
        }
        admin
            .batch_execute(&format!("CREATE DATABASE {TEMPLATE_DB}"))
            .map_err(|e| format!("CREATE DATABASE {TEMPLATE_DB}: {}", error_text(&e)))?;
        let mut db = self
            .try_connect(TEMPLATE_DB, &self.superuser)
            .map_err(|e| format!("connect: {e}"))?;
        db.batch_execute("CREATE SCHEMA jobmon; CREATE EXTENSION pg_jobmon SCHEMA jobmon;")
            .map_err(|e| {
                format!(
                    "CREATE SCHEMA jobmon; CREATE EXTENSION pg_jobmon SCHEMA jobmon: {}",
                    error_text(&e)
                )
            })?;
        drop(db);
        Ok(())
    }

    /// A connection over TCP (trust), or the error (e.g. too many clients).
    pub fn try_connect(&self, dbname: &str, user: &str) -> Result<Client, postgres::Error> {
        self.client_config(dbname, user).connect(NoTls)
    }

    /// The tests' connection parameters: TCP to this cluster, as `user`, no password.
    pub fn client_config(&self, dbname: &str, user: &str) -> postgres::Config {
        let mut config = postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user(user)
            .dbname(dbname)
            .application_name(CLIENT_APP)
            .connect_timeout(Duration::from_secs(30));
        config
    }

    /// A connection over TCP (trust) to `dbname` as `user`.
    pub fn connect(&self, dbname: &str, user: &str) -> Client {
        self.try_connect(dbname, user)
            .unwrap_or_else(|e| panic!("connect to {dbname} as {user}: {}", error_text(&e)))
    }

    /// A superuser connection to the `postgres` maintenance database.
    pub fn admin(&self) -> Client {
        self.connect("postgres", &self.superuser)
    }

    /// The whole server log so far.
    pub fn log_text(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The current end of the server log, to read what a test caused.
    pub fn log_mark(&self) -> LogMark {
        LogMark {
            log_path: self.log_path.clone(),
            offset: fs::metadata(&self.log_path).map(|m| m.len()).unwrap_or(0),
        }
    }

    /// Panics if the server log shows a crashed backend or a crash-restart.
    pub fn assert_log_has_no_crash(&self) {
        assert_no_crash(&self.log_text());
    }

    /// Path of a file in the cluster directory (writable by the server tools).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// A position in the server log.
#[derive(Clone, Debug)]
pub struct LogMark {
    log_path: PathBuf,
    offset: u64,
}

impl LogMark {
    /// The server log written since this mark.
    pub fn text_since(&self) -> String {
        let bytes = fs::read(&self.log_path).unwrap_or_default();
        let start = (self.offset as usize).min(bytes.len());
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }

    /// Panics if the server log since this mark shows a crash.
    pub fn assert_no_crash_since(&self) {
        assert_no_crash(&self.text_since());
    }
}

/// The lines of a server log excerpt that report a crash.
pub fn crash_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| {
            CRASH_MARKERS.iter().any(|m| line.contains(m))
                || (line.contains("server process") && line.contains("was terminated"))
        })
        .collect()
}

/// Panics, quoting the lines, if the log excerpt reports a crash.
pub fn assert_no_crash(log: &str) {
    let lines = crash_lines(log);
    assert!(
        lines.is_empty(),
        "the server log reports a crash:\n{}",
        lines.join("\n")
    );
}

/// A database created for one test from the template holding the extension, dropped
/// (forcibly, errors ignored) when the value goes out of scope, with the roles it made.
pub struct TestDb {
    pub name: String,
    roles: Mutex<Vec<String>>,
}

fn sanitize(label: &str) -> String {
    let mut s: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    s.truncate(40);
    s
}

impl TestDb {
    /// A new database with `pg_jobmon` installed in schema `jobmon`.
    pub fn new(label: &str) -> TestDb {
        Self::create(label, TEMPLATE_DB)
    }

    /// A new empty database (no extension), e.g. to restore a dump into.
    pub fn empty(label: &str) -> TestDb {
        Self::create(label, "template0")
    }

    fn create(label: &str, template: &str) -> TestDb {
        let c = cluster();
        let n = DB_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{n}_{}", sanitize(label));
        let mut admin = c.admin();
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE {template}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {}", error_text(&e)));
        TestDb {
            name,
            roles: Mutex::new(Vec::new()),
        }
    }

    /// A superuser connection.
    pub fn connect(&self) -> Client {
        cluster().connect(&self.name, &cluster().superuser)
    }

    /// A connection as another role.
    pub fn connect_as(&self, role: &str) -> Client {
        cluster().connect(&self.name, role)
    }

    /// Creates a login role with a name unique to this database (dropped with it) and
    /// returns that name. `attributes` is appended to `CREATE ROLE ... LOGIN`.
    pub fn create_role(&self, label: &str, attributes: &str) -> String {
        let role = format!("{}_{}", self.name, sanitize(label));
        let role: String = role.chars().take(63).collect();
        cluster()
            .admin()
            .batch_execute(&format!("CREATE ROLE \"{role}\" LOGIN {attributes}"))
            .unwrap_or_else(|e| panic!("CREATE ROLE {role}: {}", error_text(&e)));
        self.roles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(role.clone());
        role
    }

    /// Grants what a role needs to log jobs: USAGE on schema jobmon, SELECT, INSERT and
    /// UPDATE on its tables, USAGE on its sequences.
    pub fn grant_logging_rights(&self, role: &str) {
        self.connect()
            .batch_execute(&format!(
                "GRANT USAGE ON SCHEMA jobmon TO \"{role}\";
                 GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA jobmon TO \"{role}\";
                 GRANT USAGE ON ALL SEQUENCES IN SCHEMA jobmon TO \"{role}\";"
            ))
            .unwrap_or_else(|e| panic!("grants to {role}: {}", error_text(&e)));
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(Ok(c)) = CLUSTER.get() else {
            return;
        };
        if let Ok(mut admin) = c.try_connect("postgres", &c.superuser) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
            for role in self.roles.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS \"{role}\""));
            }
        }
    }
}

/// An error as one line: SQLSTATE, message, detail and hint when the server sent them.
pub fn error_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{} {}: {}{}{}",
            db.severity(),
            db.code().code(),
            db.message(),
            db.detail()
                .map(|d| format!(" DETAIL: {d}"))
                .unwrap_or_default(),
            db.hint().map(|h| format!(" HINT: {h}")).unwrap_or_default()
        ),
        None => e.to_string(),
    }
}

/// The parts of a server error the tests look at.
#[derive(Debug, Clone)]
pub struct ServerError {
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

/// The server error of a failed call; panics if the call succeeded or failed without a
/// server error (e.g. a lost connection).
pub fn server_error<T: Debug>(result: Result<T, postgres::Error>) -> ServerError {
    match result {
        Ok(v) => panic!("expected an ERROR, the call succeeded with {v:?}"),
        Err(e) => match e.as_db_error() {
            Some(db) => ServerError {
                code: db.code().code().to_string(),
                message: db.message().to_string(),
                detail: db.detail().map(str::to_string),
                hint: db.hint().map(str::to_string),
            },
            None => panic!("expected a server ERROR, got {e}"),
        },
    }
}

/// The server error of a failed call, which must carry `state`.
pub fn expect_sqlstate<T: Debug>(
    result: Result<T, postgres::Error>,
    state: SqlState,
) -> ServerError {
    let err = server_error(result);
    assert_eq!(
        err.code,
        state.code(),
        "expected SQLSTATE {} but got {err:?}",
        state.code()
    );
    err
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Regular expression (PostgreSQL syntax) matching the application_name of the
/// background session serving the backend `caller_pid`.
pub fn background_app_pattern(caller_pid: i32) -> String {
    format!("^pg_jobmon.*\\m{caller_pid}\\M")
}

/// Pids of the background sessions (any database) serving the backend `caller_pid`.
pub fn background_pids(observer: &mut Client, caller_pid: i32) -> Vec<i32> {
    observer
        .query(
            "SELECT pid FROM pg_stat_activity
              WHERE application_name ~ $1 AND pid <> $2 ORDER BY pid",
            &[&background_app_pattern(caller_pid), &caller_pid],
        )
        .expect("query pg_stat_activity")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Pids of all pg_jobmon background sessions connected to `dbname`.
pub fn background_pids_in_db(observer: &mut Client, dbname: &str) -> Vec<i32> {
    observer
        .query(
            "SELECT pid FROM pg_stat_activity
              WHERE application_name LIKE 'pg_jobmon%' AND datname = $1 ORDER BY pid",
            &[&dbname],
        )
        .expect("query pg_stat_activity")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// `backend_type` of pg_jobmon's writer processes (shared mode).
pub const WRITER_BACKEND_TYPE: &str = "pg_jobmon writer";

/// Pids of pg_jobmon's writer processes (shared mode) connected to the observer's
/// database (a writer shows in pg_stat_activity once it is connected to one).
pub fn writer_pids(observer: &mut Client) -> Vec<i32> {
    observer
        .query(
            "SELECT pid FROM pg_stat_activity
              WHERE backend_type = $1 AND datname = current_database() ORDER BY pid",
            &[&WRITER_BACKEND_TYPE],
        )
        .expect("query pg_stat_activity")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Writers connected to the observer's database that wait for a lock.
pub fn writers_in_lock_wait(observer: &mut Client) -> i64 {
    observer
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
              WHERE backend_type = $1 AND wait_event_type = 'Lock'
                AND datname = current_database()",
            &[&WRITER_BACKEND_TYPE],
        )
        .map(|r| r.get(0))
        .unwrap_or(0)
}

/// Client backends that pg_jobmon opened (its background connections), in any database.
pub fn jobmon_client_backends(observer: &mut Client) -> i64 {
    observer
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
              WHERE backend_type = 'client backend' AND application_name LIKE 'pg_jobmon%'",
            &[],
        )
        .expect("query pg_stat_activity")
        .get(0)
}

/// For the tests of the background connection's settings in the shared mode, which has
/// no such connection: after `setup` (settings or a dblink_mapping_jobmon row that would
/// send the connection elsewhere or make it fail), a call is still written, through the
/// writers, and no client connection of pg_jobmon exists.
pub fn assert_shared_mode_ignores_connection_settings(db: &TestDb, setup: &str) {
    assert!(shared_mode());
    let mut c = db.connect();
    exec(&mut c, "LOAD 'pg_jobmon'");
    exec(&mut c, setup);
    let job = add_job(&mut c, "written by the writers");
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM jobmon.job_log WHERE job_id = $1",
            &[&job],
        )
        .expect("count job_log")
        .get(0);
    assert_eq!(n, 1);
    assert_eq!(jobmon_client_backends(&mut c), 0);
}

/// The backend pid of a connection.
pub fn backend_pid(client: &mut Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .expect("pg_backend_pid()")
        .get(0)
}

/// Whether a backend with this pid is still listed in pg_stat_activity.
pub fn backend_alive(observer: &mut Client, pid: i32) -> bool {
    observer
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .map(|r| r.get::<_, i64>(0) > 0)
        .unwrap_or(false)
}

/// Runs a file of SQL with psql (ON_ERROR_STOP) against `dbname`; returns psql's output.
pub fn psql_file(dbname: &str, file: &Path) -> Result<Output, String> {
    let c = cluster();
    let port = c.port.to_string();
    let file = file.to_string_lossy().into_owned();
    c.run_tool(
        "psql",
        &[
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            &c.superuser,
            "-d",
            dbname,
            "-f",
            &file,
        ],
    )
}

/// Runs one or more statements; a failure fails the test with the server's message.
pub fn exec(c: &mut Client, sql: &str) {
    c.batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)));
}

/// `jobmon.add_job(name)`; a failure fails the test.
pub fn add_job(c: &mut Client, name: &str) -> i64 {
    c.query_one("SELECT jobmon.add_job($1)", &[&name])
        .unwrap_or_else(|e| panic!("add_job({name:?}): {}", error_text(&e)))
        .get(0)
}

/// `jobmon.add_step(job, action)`; a failure fails the test.
pub fn add_step(c: &mut Client, job: i64, action: &str) -> i64 {
    c.query_one("SELECT jobmon.add_step($1, $2)", &[&job, &action])
        .unwrap_or_else(|e| panic!("add_step({job}, {action:?}): {}", error_text(&e)))
        .get(0)
}

/// The extension's SQL surface as the catalog shows it, one sorted line per fact
/// (functions with their signatures, languages, volatility, SECURITY DEFINER and SET
/// clauses; tables and columns; indexes; constraints; triggers; views; sequences; config
/// dumps; comments; membership in the extension), for comparing two installations.
pub fn catalog_surface(client: &mut Client) -> Vec<String> {
    let mut tx = client
        .transaction()
        .unwrap_or_else(|e| panic!("BEGIN: {}", error_text(&e)));
    tx.batch_execute("SET LOCAL search_path = pg_catalog")
        .unwrap_or_else(|e| panic!("SET search_path: {}", error_text(&e)));
    let lines = tx
        .query(include_str!("catalog_surface.sql"), &[])
        .unwrap_or_else(|e| panic!("catalog_surface.sql: {}", error_text(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.rollback()
        .unwrap_or_else(|e| panic!("ROLLBACK: {}", error_text(&e)));
    lines
}

impl PgPaths {
    /// A private copy of this installation with `extra` files added to (or replacing files
    /// of) its extension directory, for tests that need extension versions no real server
    /// should offer (the 1.5.0 fixture, frozen old install scripts). The programs are
    /// copied (PostgreSQL finds its share and library directories relative to its own
    /// executable, after resolving symlinks), everything else is linked. Removed when the
    /// test process ends.
    pub fn with_extension_files(&self, extra: &[(&str, &Path)]) -> Result<PgPaths, String> {
        let base = common_prefix(&[&self.bindir, &self.sharedir, &self.pkglibdir]);
        let rel = |p: &Path| -> Result<PathBuf, String> {
            p.strip_prefix(&base)
                .map(Path::to_path_buf)
                .map_err(|e| format!("{}: {e}", p.display()))
        };
        let root = tempfile::Builder::new()
            .prefix("jobmon-pg-copy-")
            .tempdir_in("/tmp")
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?
            .keep();
        spawn_watchdog(&format!("rm -rf '{}'", root.display()))?;
        let io = |what: &str, p: &Path, e: std::io::Error| format!("{what} {}: {e}", p.display());
        let bindir = root.join(rel(&self.bindir)?);
        fs::create_dir_all(&bindir).map_err(|e| io("mkdir", &bindir, e))?;
        for entry in fs::read_dir(&self.bindir).map_err(|e| io("read", &self.bindir, e))? {
            let from = entry.map_err(|e| io("read", &self.bindir, e))?.path();
            let to = bindir.join(from.file_name().unwrap_or_default());
            if fs::hard_link(&from, &to).is_err() {
                fs::copy(&from, &to).map_err(|e| io("copy", &from, e))?;
            }
        }
        let pkglibdir = root.join(rel(&self.pkglibdir)?);
        if !pkglibdir.exists() {
            if let Some(parent) = pkglibdir.parent() {
                fs::create_dir_all(parent).map_err(|e| io("mkdir", parent, e))?;
            }
            std::os::unix::fs::symlink(&self.pkglibdir, &pkglibdir)
                .map_err(|e| io("symlink", &pkglibdir, e))?;
        }
        let sharedir = root.join(rel(&self.sharedir)?);
        let extdir = sharedir.join("extension");
        fs::create_dir_all(&extdir).map_err(|e| io("mkdir", &extdir, e))?;
        // Links every entry of from_dir into to_dir except those named in `skip`.
        let link_all = |from_dir: &Path, to_dir: &Path, skip: &[&str]| -> Result<(), String> {
            for entry in fs::read_dir(from_dir).map_err(|e| io("read", from_dir, e))? {
                let from = entry.map_err(|e| io("read", from_dir, e))?.path();
                let name = from.file_name().unwrap_or_default();
                if skip.iter().any(|s| name == *s) {
                    continue;
                }
                let to = to_dir.join(name);
                std::os::unix::fs::symlink(&from, &to).map_err(|e| io("symlink", &to, e))?;
            }
            Ok(())
        };
        link_all(&self.sharedir, &sharedir, &["extension"])?;
        let extra_names: Vec<&str> = extra.iter().map(|(name, _)| *name).collect();
        link_all(&self.sharedir.join("extension"), &extdir, &extra_names)?;
        for (name, from) in extra {
            let to = extdir.join(name);
            fs::copy(from, &to).map_err(|e| io("copy", from, e))?;
        }
        let out = Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(&root)
            .output()
            .map_err(|e| format!("chmod: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "chmod -R a+rX {}: {}",
                root.display(),
                describe(&out)
            ));
        }
        let copy = PgPaths::of(&bindir.join("pg_config"))?;
        if copy.sharedir != sharedir || copy.major != self.major {
            return Err(format!(
                "the copy of PostgreSQL {} in {} does not find its own share directory \
                 (pg_config says {})",
                self.major,
                root.display(),
                copy.sharedir.display()
            ));
        }
        Ok(copy)
    }
}

/// The longest common leading directory of the paths.
fn common_prefix(paths: &[&Path]) -> PathBuf {
    let mut prefix = PathBuf::new();
    let first: Vec<_> = paths[0].components().collect();
    'outer: for (i, c) in first.iter().enumerate() {
        for p in &paths[1..] {
            if p.components().nth(i) != Some(*c) {
                break 'outer;
            }
        }
        prefix.push(c);
    }
    prefix
}
