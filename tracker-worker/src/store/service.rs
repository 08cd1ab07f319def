//! libpq's connection service file: `service=NAME` (or `PGSERVICE`) names a `[NAME]` section of
//! `PGSERVICEFILE` (default `~/.pg_service.conf`), else of `pg_service.conf` in `PGSYSCONFDIR`
//! (default Debian's `/etc/postgresql-common`); its `key=value` lines are connection keys
//! that explicit settings override and that override the `PG*` variables.

use super::connect::Env;
use std::path::{Path, PathBuf};

/// libpq's sysconfdir on Debian.
const DEFAULT_SYSCONFDIR: &str = "/etc/postgresql-common";

/// The keys of service `name` and the file they came from.
pub fn lookup(name: &str, env: &dyn Env) -> Result<(Vec<(String, String)>, PathBuf), String> {
    let user_file = env.var("PGSERVICEFILE").map(PathBuf::from).or_else(|| {
        env.var("HOME")
            .map(|h| Path::new(&h).join(".pg_service.conf"))
    });
    let sys_file = Path::new(
        &env.var("PGSYSCONFDIR")
            .unwrap_or_else(|| DEFAULT_SYSCONFDIR.into()),
    )
    .join("pg_service.conf");
    for file in user_file.into_iter().chain([sys_file]) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if let Some(keys) = section(&text, name).map_err(|line| {
            format!(
                "syntax error in service file \"{}\", line {line}",
                file.display()
            )
        })? {
            return Ok((keys, file));
        }
    }
    Err(format!(
        "definition of service \"{name}\" not found (PGSERVICEFILE, ~/.pg_service.conf, PGSYSCONFDIR/pg_service.conf)"
    ))
}

/// The `key=value` lines of section `[name]`, `None` without one; `Err(line)` for a line of
/// that section that is not `key=value`, or that names another service.
fn section(text: &str, name: &str) -> Result<Option<Vec<(String, String)>>, usize> {
    let mut found: Option<Vec<(String, String)>> = None;
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            if found.is_some() && inside {
                break;
            }
            inside = rest.strip_suffix(']') == Some(name);
            if inside {
                found = Some(Vec::new());
            }
            continue;
        }
        if !inside {
            continue;
        }
        let (k, v) = line.split_once('=').ok_or(i + 1)?;
        let k = k.trim();
        if k == "service" {
            return Err(i + 1);
        }
        if let Some(keys) = found.as_mut() {
            keys.push((k.to_string(), v.trim().to_string()));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_found_with_its_keys_and_a_bad_line_is_located() {
        let text = "# c\n[other]\nhost=x\n\n[jobs]\nhost = db1\nport=6432\n[later]\nhost=y\n";
        assert_eq!(
            section(text, "jobs").unwrap().unwrap(),
            [
                ("host".to_string(), "db1".to_string()),
                ("port".to_string(), "6432".to_string())
            ]
        );
        assert_eq!(section(text, "none").unwrap(), None);
        assert_eq!(section("[jobs]\nhost db1\n", "jobs"), Err(2));
        assert_eq!(
            section("[x]\nbogus\n[jobs]\nhost=a\n", "jobs")
                .unwrap()
                .unwrap()
                .len(),
            1
        );
    }
}
