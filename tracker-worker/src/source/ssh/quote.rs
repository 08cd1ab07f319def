//! Building the one command line an SSH exec request carries. The remote user's shell parses
//! it, so every argument taken from the configuration is single-quoted here; only words and
//! integers the tracker generates itself appear unquoted, and SQL goes through stdin.

/// Why a configured string cannot become a shell argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum QuoteError {
    Empty,
    Nul,
}

impl std::fmt::Display for QuoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuoteError::Empty => f.write_str("is empty"),
            QuoteError::Nul => f.write_str("contains a NUL byte, which no path or command can"),
        }
    }
}

/// `arg` as one POSIX shell word that stands for exactly `arg`: inside single quotes nothing
/// is special, and a single quote itself is written as `'\''` (end quote, escaped quote,
/// reopen). A NUL byte cannot be passed to a program at all, so it is refused.
pub(super) fn shell_quote(arg: &str) -> Result<String, QuoteError> {
    if arg.is_empty() {
        return Err(QuoteError::Empty);
    }
    if arg.contains('\0') {
        return Err(QuoteError::Nul);
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('\'');
    for c in arg.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    Ok(out)
}

/// The SQLite URI that opens the existing file `path` read-write and never creates it (the
/// sqlite3 shell would otherwise create a missing file). Every byte but unreserved ones and
/// `/` is percent-encoded, so `?`, `#`, `%` and newlines in a path stay part of the path;
/// the result also never starts with `-`, so the shell cannot take it for an option.
pub(super) fn sqlite_uri(path: &str) -> Result<String, QuoteError> {
    if path.is_empty() {
        return Err(QuoteError::Empty);
    }
    if path.contains('\0') {
        return Err(QuoteError::Nul);
    }
    // "file:" + "//" + absolute path = an empty authority. A relative path gets "./": a
    // sqlite3 shell too old to understand URIs then fails on the missing directory "file:."
    // instead of creating a file named "file:queue.sqlite?mode=rw".
    let mut out = String::from(if path.starts_with('/') {
        "file://"
    } else {
        "file:./"
    });
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'~' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str("?mode=rw");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// What `sh` makes of a quoted word: its single argument, printed back by printf.
    fn through_sh(word: &str) -> Vec<u8> {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s' {word}"))
            .output()
            .expect("run sh");
        assert!(out.status.success(), "{out:?}");
        out.stdout
    }

    #[test]
    fn quoting_wraps_in_single_quotes_and_escapes_quotes() {
        assert_eq!(shell_quote("plain").unwrap(), "'plain'");
        assert_eq!(shell_quote("it's").unwrap(), r"'it'\''s'");
        assert_eq!(shell_quote("''").unwrap(), r"''\'''\'''");
    }

    #[test]
    fn hostile_strings_reach_the_program_unchanged_and_run_nothing() {
        let marker = std::env::temp_dir().join(format!("quote-pwned-{}", std::process::id()));
        let m = marker.display();
        let hostile = [
            format!("/tmp/x'; touch {m}; echo '.sqlite"),
            format!("$(touch {m})"),
            format!("`touch {m}`"),
            format!("a\nb; touch {m}"),
            format!("with spaces & {m} | > < * ? [a] {{b,c}} ~ # ! \\ \" $HOME"),
            "-rf".to_string(),
            "'".to_string(),
            "\u{e9}t\u{e9} \u{1F600}".to_string(),
        ];
        for s in &hostile {
            let word = shell_quote(s).unwrap();
            assert_eq!(through_sh(&word), s.as_bytes(), "{word}");
        }
        assert!(!marker.exists(), "a quoted string ran a command");
    }

    #[test]
    fn nul_and_empty_are_refused() {
        assert_eq!(shell_quote("a\0b"), Err(QuoteError::Nul));
        assert_eq!(shell_quote(""), Err(QuoteError::Empty));
        assert_eq!(sqlite_uri("a\0b"), Err(QuoteError::Nul));
        assert_eq!(sqlite_uri(""), Err(QuoteError::Empty));
    }

    #[test]
    fn sqlite_uri_encodes_everything_that_could_end_or_escape_the_path() {
        assert_eq!(
            sqlite_uri("/var/q.sqlite").unwrap(),
            "file:///var/q.sqlite?mode=rw"
        );
        assert_eq!(sqlite_uri("q.sqlite").unwrap(), "file:./q.sqlite?mode=rw");
        assert_eq!(
            sqlite_uri("/a b/c?d#e%f'\n").unwrap(),
            "file:///a%20b/c%3Fd%23e%25f%27%0A?mode=rw"
        );
        assert_eq!(sqlite_uri("-x").unwrap(), "file:./-x?mode=rw");
        assert_eq!(sqlite_uri("/\u{e9}").unwrap(), "file:///%C3%A9?mode=rw");
    }
}
