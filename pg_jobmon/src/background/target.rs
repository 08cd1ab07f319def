//! Where the background connection goes, resolved once per connect: the superuser's
//! jobmon.* settings first, then a 1.5.0 dblink_mapping_jobmon row, then this server's own
//! socket and port as the bootstrap superuser; the password from the mapping row or the
//! password file. Host names are resolved here, synchronously on this thread: tokio's
//! resolver would start a thread inside the backend. On a hot standby the target must be
//! another server: a standby cannot write the log rows.

use super::passfile::{self, Lookup, NoPassword, Reason};
use super::socket::Endpoint;
use crate::error::{JobmonError, Result};
use crate::gucs;
use pgrx::prelude::*;
use std::ffi::{c_int, CStr};
use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;
use tokio_postgres::Config;

const READ_MAPPING: &str = include_str!("../../../sql/runtime/read_mapping.sql");

/// A resolved target. Its `Display` leaves out the password, for error messages.
pub(super) struct Target {
    user: String,
    port: u16,
    host: Host,
    password: Option<String>,
    /// Why there is no password, when the password file was consulted and gave none.
    no_password: Option<NoPassword>,
    dbname: String,
    /// The settings that moved the target away from the default, in the order read.
    overrides: Vec<&'static str>,
}

enum Host {
    Socket(String),
    Address { name: String, addr: IpAddr },
}

impl Target {
    pub(super) fn resolve(schema: &str) -> Result<Target> {
        let mapping = read_mapping(schema)?.unwrap_or_default();
        let mut overrides = Vec::new();
        let user = noted(gucs::user(), "jobmon.user", &mut overrides)
            .or_else(|| {
                noted(
                    mapping.username,
                    "dblink_mapping_jobmon.username",
                    &mut overrides,
                )
            })
            .unwrap_or_else(bootstrap_superuser);
        let port = match noted(gucs::port(), "jobmon.port", &mut overrides) {
            Some(port) => port,
            // Parsed only when it is used: jobmon.port overrides a bad one.
            None => match noted(mapping.port, "dblink_mapping_jobmon.port", &mut overrides) {
                Some(port) => mapping_port(&port)?,
                None => server_port()?,
            },
        };
        let host = match (gucs::host(), mapping.host, mapping.hostaddr) {
            (Some(host), _, _) => {
                overrides.push("jobmon.host");
                Host::resolve(&host, None, "jobmon.host")?
            }
            (None, None, None) => local_socket(),
            (None, Some(host), None) => {
                overrides.push("dblink_mapping_jobmon.host");
                Host::resolve(&host, None, "dblink_mapping_jobmon.host")?
            }
            (None, host, Some(addr)) => {
                if host.is_some() {
                    overrides.push("dblink_mapping_jobmon.host");
                }
                overrides.push("dblink_mapping_jobmon.hostaddr");
                let name = host.as_deref().unwrap_or(&addr);
                Host::resolve(name, Some(&addr), "dblink_mapping_jobmon.hostaddr")?
            }
        };
        if unsafe { pg_sys::RecoveryInProgress() } && !overrides.iter().any(|o| moves_server(o)) {
            return Err(JobmonError::HotStandby);
        }
        let mut target = Target {
            user,
            port,
            host,
            password: noted(mapping.pwd, "dblink_mapping_jobmon.pwd", &mut overrides),
            no_password: None,
            dbname: current_database()?,
            overrides,
        };
        if target.password.is_none() {
            target.read_passfile();
        }
        Ok(target)
    }

    /// The password of the password file's first matching line, as libpq would find it.
    fn read_passfile(&mut self) {
        let Some(path) = passfile::path(gucs::passfile()) else {
            return;
        };
        let key = passfile::Key {
            host: self.passfile_host(),
            port: self.port,
            dbname: &self.dbname,
            user: &self.user,
        };
        match passfile::lookup(&path, &key) {
            Lookup::Found(password) => self.password = Some(password),
            Lookup::None(why) => self.no_password = Some(why),
        }
    }

    /// What to say when the server asked for a password and there was none.
    pub(super) fn password_error(&self) -> JobmonError {
        let target = self.to_string();
        let Some(NoPassword { path, reason }) = &self.no_password else {
            return JobmonError::NoPassword {
                target,
                why: "no password file is known (the server's OS user has no home directory and PGPASSFILE is not set)".into(),
                passfile: None,
            };
        };
        let why = match reason {
            Reason::Insecure(mode) => {
                return JobmonError::PassfileInsecure {
                    path: path.clone(),
                    mode: *mode,
                }
            }
            Reason::Missing => format!("the password file \"{path}\" does not exist"),
            Reason::Unreadable(e) => format!("the password file \"{path}\" cannot be read: {e}"),
            Reason::NotPlainFile => format!("the password file \"{path}\" is not a plain file"),
            Reason::NoMatchingLine => format!(
                "no line of the password file \"{path}\" matches {}:{}:{}:{}",
                self.passfile_host(),
                self.port,
                self.dbname,
                self.user
            ),
        };
        JobmonError::NoPassword {
            target,
            why,
            passfile: Some(path.clone()),
        }
    }

    /// The host field a password file line needs for this target: libpq writes the
    /// compiled-in default socket directory as `localhost`.
    fn passfile_host(&self) -> &str {
        match &self.host {
            Host::Socket(dir) if dir.as_bytes() == pg_sys::DEFAULT_PGSOCKET_DIR.to_bytes() => {
                "localhost"
            }
            Host::Socket(dir) => dir,
            Host::Address { name, .. } => name,
        }
    }

    /// Where the socket goes.
    pub(super) fn endpoint(&self) -> Endpoint {
        match &self.host {
            Host::Socket(dir) => {
                Endpoint::Unix(Path::new(dir).join(format!(".s.PGSQL.{}", self.port)))
            }
            Host::Address { addr, .. } => Endpoint::Tcp(SocketAddr::new(*addr, self.port)),
        }
    }

    /// The role the connection logs in as.
    pub(super) fn user(&self) -> &str {
        &self.user
    }

    /// The settings that chose this target; empty for the default one.
    pub(super) fn overrides(&self) -> Vec<&'static str> {
        self.overrides.clone()
    }

    /// The connection parameters, with the session settings every background session
    /// starts with; where the socket goes is `endpoint()`.
    pub(super) fn config(&self, lock_timeout: Duration) -> Config {
        let mut config = Config::new();
        config
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name(format!("pg_jobmon background for pid {}", unsafe {
                pg_sys::MyProcPid
            }))
            .options(format!(
                "-c lock_timeout={}ms -c search_path=pg_catalog",
                lock_timeout.as_millis()
            ));
        if let Some(password) = &self.password {
            config.password(password);
        }
        config
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user={} host=", self.user)?;
        match &self.host {
            Host::Socket(dir) => write!(f, "{dir}")?,
            Host::Address { name, addr } if *name == addr.to_string() => write!(f, "{addr}")?,
            Host::Address { name, addr } => write!(f, "{name} ({addr})")?,
        }
        write!(f, " port={} dbname={}", self.port, self.dbname)
    }
}

impl Host {
    /// A socket directory (a path), an IP address, or a host name looked up now. `setting`
    /// names where the value came from, for the error.
    fn resolve(host: &str, hostaddr: Option<&str>, setting: &'static str) -> Result<Host> {
        let host = host.trim();
        if host.starts_with('/') {
            return Ok(Host::Socket(host.to_string()));
        }
        let literal = hostaddr.unwrap_or(host).trim();
        if let Ok(addr) = literal.parse::<IpAddr>() {
            return Ok(Host::Address {
                name: host.to_string(),
                addr,
            });
        }
        let unresolved = |reason: String| JobmonError::UnresolvedHost {
            host: literal.to_string(),
            setting,
            reason,
        };
        let addr = (literal, 0u16)
            .to_socket_addrs()
            .map_err(|e| unresolved(e.to_string()))?
            .next()
            .ok_or_else(|| unresolved("no address found".into()))?;
        Ok(Host::Address {
            name: host.to_string(),
            addr: addr.ip(),
        })
    }
}

/// Whether a setting that chose the target points it at another server (or another
/// cluster on this host), not just at another role of this one.
fn moves_server(setting: &str) -> bool {
    matches!(
        setting,
        "jobmon.host"
            | "jobmon.port"
            | "dblink_mapping_jobmon.host"
            | "dblink_mapping_jobmon.hostaddr"
            | "dblink_mapping_jobmon.port"
    )
}

/// `value`, noting `name` among the overrides when it is set.
fn noted<T>(value: Option<T>, name: &'static str, overrides: &mut Vec<&'static str>) -> Option<T> {
    if value.is_some() {
        overrides.push(name);
    }
    value
}

/// The 1.5.0 `dblink_mapping_jobmon` row, when one exists; blank fields count as unset.
#[derive(Default)]
struct Mapping {
    username: Option<String>,
    port: Option<String>,
    pwd: Option<String>,
    host: Option<String>,
    hostaddr: Option<String>,
}

fn read_mapping(schema: &str) -> Result<Option<Mapping>> {
    let query = READ_MAPPING.replace("@extschema@", schema);
    let _identity = AsSuperuser::enter();
    Spi::connect(|client| {
        let table = client.select(&query, Some(1), &[])?;
        if table.is_empty() {
            return Ok(None);
        }
        let row = table.first();
        let field = |name: &str| -> std::result::Result<Option<String>, pgrx::spi::Error> {
            Ok(row
                .get_by_name::<String, _>(name)?
                .filter(|v| !v.trim().is_empty()))
        };
        Ok(Some(Mapping {
            username: field("username")?,
            port: field("port")?,
            pwd: field("pwd")?,
            host: field("host")?,
            hostaddr: field("hostaddr")?,
        }))
    })
    .map_err(|e: pgrx::spi::Error| JobmonError::MappingUnreadable(e.to_string()))
}

/// Runs a closure with the extension owner's (bootstrap superuser's) rights, restoring the
/// caller's identity afterwards, also when the closure raises.
struct AsSuperuser {
    user: pg_sys::Oid,
    context: c_int,
}

impl AsSuperuser {
    fn enter() -> Self {
        let mut user = pg_sys::InvalidOid;
        let mut context: c_int = 0;
        unsafe {
            pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
            pg_sys::SetUserIdAndSecContext(
                pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID),
                context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as c_int,
            );
        }
        AsSuperuser { user, context }
    }
}

impl Drop for AsSuperuser {
    fn drop(&mut self) {
        unsafe { pg_sys::SetUserIdAndSecContext(self.user, self.context) }
    }
}

fn mapping_port(value: &str) -> Result<u16> {
    value
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| JobmonError::BadSetting {
            setting: "dblink_mapping_jobmon.port",
            value: value.to_string(),
            expected: "a port number (1 to 65535)",
        })
}

fn server_port() -> Result<u16> {
    let port = unsafe { pg_sys::PostPortNumber };
    u16::try_from(port).map_err(|_| JobmonError::Internal(format!("server port {port}")))
}

/// The first of this server's unix_socket_directories, or the loopback address when the
/// server listens on TCP only.
fn local_socket() -> Host {
    let dirs = unsafe {
        let value = pg_sys::GetConfigOption(c"unix_socket_directories".as_ptr(), true, false);
        if value.is_null() {
            String::new()
        } else {
            CStr::from_ptr(value).to_string_lossy().into_owned()
        }
    };
    let first = dirs
        .split(',')
        .map(|d| d.trim().trim_matches('"').trim_matches('\'').to_string())
        .find(|d| !d.is_empty());
    match first {
        Some(dir) => Host::Socket(dir),
        None => Host::Address {
            name: "127.0.0.1".into(),
            addr: IpAddr::from([127, 0, 0, 1]),
        },
    }
}

fn bootstrap_superuser() -> String {
    unsafe {
        let name =
            pg_sys::GetUserNameFromId(pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID), false);
        CStr::from_ptr(name).to_string_lossy().into_owned()
    }
}

fn current_database() -> Result<String> {
    let name = unsafe { pg_sys::get_database_name(pg_sys::MyDatabaseId) };
    if name.is_null() {
        return Err(JobmonError::Internal("this database has no name".into()));
    }
    Ok(unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned())
}
