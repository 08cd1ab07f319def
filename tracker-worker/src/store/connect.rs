//! From the `[database]` section to a tokio-postgres configuration, the way libpq would do it:
//! a conninfo string or separate keys, then `PGHOST`/`PGPORT`/`PGUSER`/`PGDATABASE`, then
//! libpq's defaults (Debian's socket directory, port 5432, the OS user). The password, if the
//! server asks for one, comes from a pgpass file (`password_file`, else `PGPASSFILE`, else
//! `~/.pgpass`); the configuration itself never holds one.

use crate::config::Database;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_postgres::config::Host;
use tokio_postgres::Config;

/// libpq's default socket directory on Debian.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";
const DEFAULT_PORT: u16 = 5432;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The environment a configuration is completed from (injected so tests need no real env).
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// The connection configuration, or what is wrong with the `[database]` section.
pub fn pg_config(db: &Database, env: &dyn Env) -> Result<Config, String> {
    let mut config = match &db.conninfo {
        Some(conninfo) => conninfo
            .parse::<Config>()
            .map_err(|e| format!("database.conninfo is not a valid connection string: {e}"))?,
        None => Config::new(),
    };
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
    Ok(config)
}

/// The password of the first matching line of a pgpass file
/// (`host:port:database:user:password`, `*` matches anything, `\:` and `\\` escape).
/// A missing or unreadable file means no password, as in libpq.
fn pgpass_lookup(file: &Path, config: &Config) -> Option<String> {
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
}
