//! The password file of the background connection, read with libpq's rules: which file
//! (jobmon.passfile, else `$PGPASSFILE`, else `~/.pgpass` of the server's OS user), which
//! line (`host:port:database:user:password`, `*` for any value, `\` escaping `:` and `\`,
//! the first matching line wins), and which files are refused (not a plain file, or
//! readable by group or others). Plain Rust: no PostgreSQL call, so it can run anywhere.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The four values a line is matched against, as libpq spells them.
pub(super) struct Key<'a> {
    /// The host name, the IP address, or the socket directory; `localhost` for the
    /// compiled-in default socket directory.
    pub host: &'a str,
    pub port: u16,
    pub dbname: &'a str,
    pub user: &'a str,
}

/// What reading the password file gave.
pub(super) enum Lookup {
    Found(String),
    /// No password from the file, and why (for the error when the server asks for one).
    None(NoPassword),
}

pub(super) struct NoPassword {
    pub path: String,
    pub reason: Reason,
}

pub(super) enum Reason {
    Missing,
    /// It exists but cannot be read (permissions, I/O).
    Unreadable(String),
    NoMatchingLine,
    NotPlainFile,
    /// Readable or writable by group or others: libpq ignores such a file, pg_jobmon
    /// refuses it, so that a secret readable by others is noticed. The mode, e.g. 0644.
    Insecure(u32),
}

/// The file libpq would read in this process, `None` when no home directory is known.
pub(super) fn path(setting: Option<String>) -> Option<String> {
    if let Some(path) = setting {
        return Some(path);
    }
    if let Some(path) = std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path).to_string_lossy().into_owned());
    }
    // HOME, else the passwd entry of the effective user: what libpq does.
    std::env::home_dir().map(|home| home.join(".pgpass").to_string_lossy().into_owned())
}

/// The password of the first line of `path` that matches `key`.
pub(super) fn lookup(path: &str, key: &Key) -> Lookup {
    let none = |reason| {
        Lookup::None(NoPassword {
            path: path.to_string(),
            reason,
        })
    };
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return none(Reason::Missing),
        Err(e) => return none(Reason::Unreadable(e.to_string())),
    };
    if !meta.is_file() {
        return none(Reason::NotPlainFile);
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return none(Reason::Insecure(mode));
    }
    let text = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return none(Reason::Unreadable(e.to_string())),
    };
    match find(&text, key) {
        Some(password) => Lookup::Found(password),
        None => none(Reason::NoMatchingLine),
    }
}

/// libpq's passwordFromFile(): the first non-comment line whose first four fields match.
fn find(text: &[u8], key: &Key) -> Option<String> {
    let port = key.port.to_string();
    let fields = [key.host, port.as_str(), key.dbname, key.user];
    text.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty() && line[0] != b'#')
        .find_map(|line| {
            let mut rest = line;
            for field in fields {
                rest = matches_field(rest, field.as_bytes())?;
            }
            Some(unescape_password(rest))
        })
}

/// libpq's pwdfMatchesString(): if the line starts with a field equal to `token` (or with
/// `*`), the rest of the line after that field's `:`.
fn matches_field<'a>(line: &'a [u8], token: &[u8]) -> Option<&'a [u8]> {
    if line.starts_with(b"*:") {
        return Some(&line[2..]);
    }
    let mut i = 0;
    let mut matched = 0;
    while i < line.len() {
        let mut escaped = false;
        if line[i] == b'\\' {
            i += 1;
            escaped = true;
            if i == line.len() {
                return None;
            }
        }
        if line[i] == b':' && !escaped && matched == token.len() {
            return Some(&line[i + 1..]);
        }
        if matched == token.len() || line[i] != token[matched] {
            return None;
        }
        i += 1;
        matched += 1;
    }
    None
}

/// The password field: up to the first unescaped `:`, with `\x` read as `x`.
fn unescape_password(field: &[u8]) -> String {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() && field[i] != b':' {
        if field[i] == b'\\' && i + 1 < field.len() {
            i += 1;
        }
        out.push(field[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
