//! From the `[database]` section to a tokio-postgres configuration, the way libpq would do it:
//! a conninfo string or separate keys, then `PGHOST`/`PGPORT`/`PGUSER`/`PGDATABASE`, then
//! libpq's defaults (Debian's socket directory, port 5432, the OS user). The password, if the
//! server asks for one, comes from a pgpass file (`password_file`, else `PGPASSFILE`, else
//! `~/.pgpass`); the configuration itself never holds one. TLS keys go to [`super::tls`].

use super::service;
use super::tls::{self, Setting, SslMode, TlsKeys, TLS_KEYS};
use crate::config::Database;
use postgres_openssl::{MakeTlsConnector, TlsStream};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_postgres::config::{Host, SslMode as PgSslMode};
use tokio_postgres::{Client, Config, Connection, Socket};

/// libpq's default socket directory on Debian.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";
const DEFAULT_PORT: u16 = 5432;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The libpq variables the tracker reads (tests clear them all to run in a known environment).
pub const PG_ENV_VARS: [&str; 13] = [
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSYSCONFDIR",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLCRL",
];

/// The environment a configuration is completed from (injected so tests need no real env).
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        let value = std::env::var(name).ok().filter(|v| !v.is_empty());
        match name {
            // libpq asks the password database when the environment does not say.
            "USER" | "HOME" => value.or_else(|| passwd_entry(name == "HOME")),
            _ => value,
        }
    }
}

/// The effective user's name or home directory from the password database.
fn passwd_entry(home: bool) -> Option<String> {
    // SAFETY: getpwuid's result is read at once, before any other getpw* call of this
    // thread; a null result (no entry) is checked.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() {
            return None;
        }
        let field = if home { (*pw).pw_dir } else { (*pw).pw_name };
        if field.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr(field)
            .to_str()
            .ok()
            .map(str::to_owned)
    }
}

/// A tokio-postgres configuration with libpq's TLS settings; connect through
/// [`PgConfig::connect`], which is the only place that knows what `sslmode` means.
pub struct PgConfig {
    config: Config,
    tls: tls::Tls,
}

impl Deref for PgConfig {
    type Target = Config;
    fn deref(&self) -> &Config {
        &self.config
    }
}

impl DerefMut for PgConfig {
    fn deref_mut(&mut self) -> &mut Config {
        &mut self.config
    }
}

impl std::fmt::Debug for PgConfig {
    // tokio-postgres's Debug redacts the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("config", &self.config)
            .field("sslmode", &self.tls.mode)
            .finish()
    }
}

pub type PgConnection = Connection<Socket, TlsStream<Socket>>;

impl PgConfig {
    /// Where it connects, for messages: `database x on 127.0.0.1:5432 as jobmon` (no
    /// secrets: passwords are never part of it).
    pub fn target(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(dir)) => dir.display().to_string(),
            None => DEFAULT_SOCKET_DIR.to_string(),
        };
        let port = self
            .config
            .get_ports()
            .first()
            .copied()
            .unwrap_or(DEFAULT_PORT);
        format!(
            "database {} on {host}:{port} as {}",
            self.config.get_dbname().unwrap_or("(default)"),
            self.config.get_user().unwrap_or("(default)")
        )
    }

    pub fn ssl_mode(&self) -> SslMode {
        self.tls.mode
    }

    /// The connector (also for cancel requests, which follow the connection's TLS).
    pub fn tls(&self) -> MakeTlsConnector {
        self.tls.connector.clone()
    }

    /// Connects as libpq would for the `sslmode`: `allow` tries without TLS first and again
    /// with it when the server refuses; `prefer` the other way round (tokio-postgres falls
    /// back when the server does not offer TLS); the others insist on TLS or on none.
    pub async fn connect(&self) -> Result<(Client, PgConnection), tokio_postgres::Error> {
        let mut config = self.config.clone();
        let first = match self.tls.mode {
            SslMode::Disable | SslMode::Allow => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        };
        config.ssl_mode(first);
        match config.connect(self.tls()).await {
            Err(e) if self.tls.mode == SslMode::Allow && e.as_db_error().is_some() => {
                config.ssl_mode(PgSslMode::Require);
                config.connect(self.tls()).await
            }
            result => result,
        }
    }
}

/// The connection configuration, or what is wrong with the `[database]` section.
pub fn pg_config(db: &Database, env: &dyn Env) -> Result<PgConfig, String> {
    let mut keys = TlsKeys::default();
    let mut service = None;
    let mut config = match &db.conninfo {
        Some(conninfo) => {
            let rest = take_tls_keys(conninfo, &mut keys, &mut service, "database.conninfo")?;
            rest.parse::<Config>().map_err(|e| {
                format!(
                    "database.conninfo is not a valid connection string: {}",
                    super::pg_error_text(&e)
                )
            })?
        }
        None => Config::new(),
    };
    for (key, value) in [
        ("sslmode", &db.sslmode),
        ("sslrootcert", &db.sslrootcert),
        ("sslcert", &db.sslcert),
        ("sslkey", &db.sslkey),
        ("sslcrl", &db.sslcrl),
    ] {
        if let (Some(v), Some(slot)) = (value, keys.slot(key)) {
            slot.get_or_insert(Setting {
                value: v.clone(),
                from: format!("database.{key}"),
            });
        }
    }
    if let Some(name) = service.or_else(|| env.var("PGSERVICE")) {
        apply_service(&name, db, env, &mut config, &mut keys)?;
    }
    for (key, var) in TLS_KEYS {
        if let (Some(v), Some(slot)) = (env.var(var), keys.slot(key)) {
            slot.get_or_insert(Setting {
                value: v,
                from: var.to_string(),
            });
        }
    }
    let home = env.var("HOME").map(PathBuf::from);
    let tls = tls::build(&keys, home.as_deref())?;
    if config.get_hosts().is_empty() {
        let host = db
            .host
            .clone()
            .or_else(|| env.var("PGHOST"))
            .unwrap_or_else(|| DEFAULT_SOCKET_DIR.into());
        for h in host.split(',') {
            if h.starts_with('/') {
                config.host_path(h);
            } else {
                config.host(h);
            }
        }
    }
    if config.get_ports().is_empty() {
        let port = match (db.port, env.var("PGPORT")) {
            (Some(p), _) => p,
            (None, Some(p)) => p
                .parse()
                .map_err(|_| format!("PGPORT `{p}` is not a port number"))?,
            (None, None) => DEFAULT_PORT,
        };
        config.port(port);
    }
    if config.get_user().is_none() {
        let user = db
            .user
            .clone()
            .or_else(|| env.var("PGUSER"))
            .or_else(|| env.var("USER"))
            .ok_or("database.user is not set and neither PGUSER nor USER is")?;
        config.user(&user);
    }
    if config.get_dbname().is_none() {
        let dbname = db.dbname.clone().or_else(|| env.var("PGDATABASE"));
        // libpq's default database is the user name.
        let dbname = dbname.or_else(|| config.get_user().map(str::to_owned));
        if let Some(d) = dbname {
            config.dbname(&d);
        }
    }
    if config.get_application_name().is_none() {
        config.application_name("jobmon-tracker");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_password().is_none() {
        let file = db
            .password_file
            .clone()
            .or_else(|| env.var("PGPASSFILE").map(PathBuf::from))
            .or_else(|| env.var("HOME").map(|h| Path::new(&h).join(".pgpass")));
        if let Some(file) = file {
            if let Some(password) = pgpass_lookup(&file, &config) {
                config.password(password);
            }
        }
    }
    Ok(PgConfig { config, tls })
}

/// Fills what neither the connection string nor the `[database]` keys set from service
/// `name` (libpq's order: explicit settings, the service, then the environment).
fn apply_service(
    name: &str,
    db: &Database,
    env: &dyn Env,
    config: &mut Config,
    keys: &mut TlsKeys,
) -> Result<(), String> {
    let (pairs, file) = service::lookup(name, env)?;
    let from = format!("service \"{name}\" in {}", file.display());
    for (k, v) in pairs {
        if let Some(slot) = keys.slot(&k) {
            slot.get_or_insert(Setting {
                value: v,
                from: from.clone(),
            });
            continue;
        }
        let unset = match k.as_str() {
            "host" => config.get_hosts().is_empty() && db.host.is_none(),
            "hostaddr" => config.get_hostaddrs().is_empty(),
            "port" => config.get_ports().is_empty() && db.port.is_none(),
            "user" => config.get_user().is_none() && db.user.is_none(),
            "dbname" => config.get_dbname().is_none() && db.dbname.is_none(),
            "password" => config.get_password().is_none(),
            "application_name" => config.get_application_name().is_none(),
            "options" => config.get_options().is_none(),
            "connect_timeout" => config.get_connect_timeout().is_none(),
            _ => return Err(format!("{from}: unknown or unsupported keyword `{k}`")),
        };
        if unset {
            let one = format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
            let parsed: Config = one
                .parse()
                .map_err(|e| format!("{from}: invalid `{k}`: {}", super::pg_error_text(&e)))?;
            merge_one(config, &parsed, &k);
        }
    }
    Ok(())
}

/// Copies key `k` of `from` (a configuration of that one key) into `config`.
fn merge_one(config: &mut Config, from: &Config, k: &str) {
    match k {
        "host" => {
            for h in from.get_hosts() {
                match h {
                    Host::Tcp(h) => config.host(h),
                    Host::Unix(p) => config.host_path(p),
                };
            }
        }
        "hostaddr" => {
            for a in from.get_hostaddrs() {
                config.hostaddr(*a);
            }
        }
        "port" => {
            for p in from.get_ports() {
                config.port(*p);
            }
        }
        "user" => {
            config.user(from.get_user().unwrap_or_default());
        }
        "dbname" => {
            config.dbname(from.get_dbname().unwrap_or_default());
        }
        "password" => {
            config.password(from.get_password().unwrap_or_default());
        }
        "application_name" => {
            config.application_name(from.get_application_name().unwrap_or_default());
        }
        "options" => {
            config.options(from.get_options().unwrap_or_default());
        }
        "connect_timeout" => {
            if let Some(t) = from.get_connect_timeout() {
                config.connect_timeout(*t);
            }
        }
        _ => {}
    }
}

/// Takes libpq's TLS keys out of a connection string (`key=value ...` or a URI's query) into
/// `keys`, and returns the rest for tokio-postgres.
fn take_tls_keys(
    conninfo: &str,
    keys: &mut TlsKeys,
    service: &mut Option<String>,
    from: &str,
) -> Result<String, String> {
    let s = conninfo.trim();
    if s.starts_with("postgresql://") || s.starts_with("postgres://") {
        let Some((base, query)) = s.split_once('?') else {
            return Ok(s.to_string());
        };
        let mut rest = Vec::new();
        for param in query.split('&') {
            let (k, v) = param.split_once('=').unwrap_or((param, ""));
            if k == "service" {
                *service = percent_decode(v);
                continue;
            }
            match keys.slot(k) {
                Some(slot) => {
                    *slot = Some(Setting {
                        value: percent_decode(v)
                            .ok_or_else(|| format!("{from}: bad %-escape in `{k}`"))?,
                        from: from.to_string(),
                    })
                }
                None => rest.push(param),
            }
        }
        return Ok(if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        });
    }
    let mut rest = String::new();
    for (k, v) in
        split_keywords(s).map_err(|e| format!("{from} is not a valid connection string: {e}"))?
    {
        if k == "service" {
            *service = Some(v);
            continue;
        }
        match keys.slot(&k) {
            Some(slot) => {
                *slot = Some(Setting {
                    value: v,
                    from: from.to_string(),
                })
            }
            None => {
                let quoted = v.replace('\\', "\\\\").replace('\'', "\\'");
                rest.push_str(&format!("{k}='{quoted}' "));
            }
        }
    }
    Ok(rest)
}

/// libpq's `key = value` syntax: values unquoted or in single quotes, `\` escapes.
fn split_keywords(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("missing \"=\" after \"{key}\""));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(format!("unterminated quoted value of \"{key}\"")),
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The password of the first matching line of a pgpass file
/// (`host:port:database:user:password`, `*` matches anything, `\:` and `\\` escape).
/// A missing or unreadable file means no password, as in libpq.
fn pgpass_lookup(file: &Path, config: &Config) -> Option<String> {
    if let Some(why) = pgpass_refused(file) {
        tracing::warn!("{why}");
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    let host = match config.get_hosts().first()? {
        // libpq matches socket connections against "localhost".
        Host::Unix(_) => "localhost".to_string(),
        Host::Tcp(h) => h.clone(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(DEFAULT_PORT)
        .to_string();
    let dbname = config.get_dbname().unwrap_or_default();
    let user = config.get_user().unwrap_or_default();
    let wanted = [host.as_str(), port.as_str(), dbname, user];
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|line| {
            let fields = split_pgpass(line);
            if fields.len() != 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want);
            matches.then(|| fields[4].clone())
        })
}

/// libpq ignores a password file that is not a regular file or that the group or others
/// may access. One exception, the packages' layout (`/etc/jobmon-tracker/pgpass`,
/// `root:jobmon-tracker` 0640): a file owned by root may be group-readable, as libpq allows
/// for TLS keys.
fn pgpass_refused(file: &Path) -> Option<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(file).ok()?;
    if meta.file_type().is_char_device() {
        // /dev/null: nothing to read, nothing to warn about.
        return None;
    }
    if !meta.is_file() {
        return Some(format!(
            "password file \"{}\" is not a plain file; it is ignored",
            file.display()
        ));
    }
    let too_open = if meta.uid() == 0 {
        meta.mode() & 0o037 != 0
    } else {
        meta.mode() & 0o077 != 0
    };
    too_open.then(|| {
        format!(
            "password file \"{}\" has group or world access; permissions should be u=rw (0600) \
             or less (u=rw,g=r (0640) if owned by root); it is ignored",
            file.display()
        )
    })
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnv(HashMap<&'static str, String>);
    impl Env for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    #[test]
    fn keys_then_environment_then_libpq_defaults() {
        let env = FakeEnv(HashMap::from([
            ("PGPORT", "5499".to_string()),
            ("USER", "alice".to_string()),
        ]));
        let db = Database {
            dbname: Some("jobs".into()),
            ..Database::default()
        };
        let c = pg_config(&db, &env).unwrap();
        assert_eq!(c.get_hosts(), [Host::Unix(DEFAULT_SOCKET_DIR.into())]);
        assert_eq!(c.get_ports(), [5499]);
        assert_eq!(c.get_user(), Some("alice"));
        assert_eq!(c.get_dbname(), Some("jobs"));
        assert_eq!(c.get_application_name(), Some("jobmon-tracker"));
        assert_eq!(c.get_password(), None);
    }

    #[test]
    fn a_conninfo_string_wins_and_a_bad_one_is_explained() {
        let env = FakeEnv(HashMap::new());
        let db = Database {
            conninfo: Some("host=db1 port=6432 user=t dbname=jobmon".into()),
            ..Database::default()
        };
        let c = pg_config(&db, &env).unwrap();
        assert_eq!(c.get_hosts(), [Host::Tcp("db1".into())]);
        assert_eq!(c.get_ports(), [6432]);
        let bad = Database {
            conninfo: Some("host=db1 bogus".into()),
            ..Database::default()
        };
        let e = pg_config(&bad, &env).unwrap_err();
        assert!(
            e.starts_with("database.conninfo is not a valid connection string"),
            "{e}"
        );
    }

    #[test]
    fn the_password_comes_from_the_first_matching_pgpass_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:5432:*:t:nope\ndb1:6432:jobmon:t:s\\:cret\n*:*:*:*:fallback\n",
        )
        .unwrap();
        set_mode(&file, 0o600);
        let db = Database {
            conninfo: Some("host=db1 port=6432 user=t dbname=jobmon".into()),
            password_file: Some(file.clone()),
            ..Database::default()
        };
        let c = pg_config(&db, &FakeEnv(HashMap::new())).unwrap();
        assert_eq!(c.get_password(), Some(&b"s:cret"[..]));
        let db = Database {
            conninfo: Some("host=/tmp port=1 user=x dbname=y".into()),
            password_file: Some(file),
            ..Database::default()
        };
        let c = pg_config(&db, &FakeEnv(HashMap::new())).unwrap();
        assert_eq!(c.get_password(), Some(&b"fallback"[..]));
    }

    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_pgpass_file_others_may_read_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "*:*:*:*:secret\n").unwrap();
        let db = Database {
            conninfo: Some("host=db1 user=t dbname=j".into()),
            password_file: Some(file.clone()),
            ..Database::default()
        };
        let env = FakeEnv(HashMap::new());
        for (mode, password) in [(0o600, Some(&b"secret"[..])), (0o660, None), (0o604, None)] {
            set_mode(&file, mode);
            let c = pg_config(&db, &env).unwrap();
            assert_eq!(c.get_password(), password, "{mode:o}");
        }
        let why = pgpass_refused(&file).unwrap();
        assert!(why.contains("has group or world access"), "{why}");
        assert_eq!(pgpass_refused(Path::new("/dev/null")), None);
    }

    #[test]
    fn a_service_fills_what_the_connection_string_leaves_unset() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("services");
        std::fs::write(
            &file,
            "[jobs]\nhost=db9\nport=6543\ndbname=jobmon\nsslmode=require\n[bad]\nfrobnicate=1\n",
        )
        .unwrap();
        let env = FakeEnv(HashMap::from([
            ("PGSERVICEFILE", file.to_string_lossy().into_owned()),
            ("PGPORT", "1111".to_string()),
            ("USER", "u".to_string()),
        ]));
        let db = Database {
            conninfo: Some("service=jobs dbname=other".into()),
            ..Database::default()
        };
        let c = pg_config(&db, &env).unwrap();
        assert_eq!(c.get_hosts(), [Host::Tcp("db9".into())]);
        assert_eq!(c.get_ports(), [6543], "the service over PGPORT");
        assert_eq!(
            c.get_dbname(),
            Some("other"),
            "the connection string over the service"
        );
        assert_eq!(c.ssl_mode(), SslMode::Require);
        let db = Database {
            conninfo: Some("service=bad".into()),
            ..Database::default()
        };
        let e = pg_config(&db, &env).unwrap_err();
        assert!(
            e.contains("unknown or unsupported keyword `frobnicate`"),
            "{e}"
        );
        let env = FakeEnv(HashMap::from([
            ("PGSERVICE", "missing".to_string()),
            ("PGSERVICEFILE", file.to_string_lossy().into_owned()),
            ("PGSYSCONFDIR", dir.path().to_string_lossy().into_owned()),
            ("USER", "u".to_string()),
        ]));
        let e = pg_config(&Database::default(), &env).unwrap_err();
        assert!(
            e.starts_with("definition of service \"missing\" not found"),
            "{e}"
        );
    }

    #[test]
    fn tls_keys_come_out_of_either_conninfo_syntax_and_the_rest_is_kept() {
        let mut keys = TlsKeys::default();
        let rest = take_tls_keys(
            "host=db1 sslmode = verify-ca sslrootcert='/etc/my ca.crt' dbname='a\\'b'",
            &mut keys,
            &mut None,
            "database.conninfo",
        )
        .unwrap();
        assert_eq!(keys.sslmode.unwrap().value, "verify-ca");
        assert_eq!(keys.sslrootcert.as_ref().unwrap().value, "/etc/my ca.crt");
        let c: Config = rest.parse().unwrap();
        assert_eq!(c.get_dbname(), Some("a'b"));
        let mut keys = TlsKeys::default();
        let rest = take_tls_keys(
            "postgresql://u@db1:5433/jobs?sslmode=verify-full&connect_timeout=3&sslcert=%2Ftmp%2Fc.crt",
            &mut keys,
            &mut None,
            "x",
        )
        .unwrap();
        assert_eq!(rest, "postgresql://u@db1:5433/jobs?connect_timeout=3");
        assert_eq!(keys.sslmode.unwrap().value, "verify-full");
        assert_eq!(keys.sslcert.unwrap().value, "/tmp/c.crt");
    }

    #[test]
    fn tls_settings_conninfo_over_keys_over_environment() {
        let env = FakeEnv(HashMap::from([
            ("PGSSLMODE", "bogus".to_string()),
            ("USER", "u".to_string()),
        ]));
        let e = pg_config(&Database::default(), &env).err().unwrap();
        assert!(e.starts_with("PGSSLMODE: invalid sslmode `bogus`"), "{e}");
        let db = Database {
            sslmode: Some("require".into()),
            ..Database::default()
        };
        assert_eq!(pg_config(&db, &env).unwrap().ssl_mode(), SslMode::Require);
        let db = Database {
            conninfo: Some("host=db1 sslmode=disable".into()),
            ..Database::default()
        };
        assert_eq!(pg_config(&db, &env).unwrap().ssl_mode(), SslMode::Disable);
    }
}
