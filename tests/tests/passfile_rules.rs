//! libpq's password file rules as pg_jobmon's background connection applies them, tested
//! on the pure module itself (it has no PostgreSQL in it): which line matches, how
//! escapes and `*` read, which files are refused, and which file is read by default.

#[allow(dead_code)]
#[path = "../../pg_jobmon/src/background/passfile.rs"]
mod passfile;

use passfile::{lookup, path, Key, Lookup, Reason};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

const KEY: Key = Key {
    host: "/run/pg",
    port: 5433,
    dbname: "app",
    user: "jobmon",
};

/// A password file in a fresh directory, with the given mode.
fn file(content: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("pgpass");
    fs::write(&path, content).expect("write the password file");
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
    (dir, path)
}

fn password(content: &str, key: &Key) -> Option<String> {
    let (_dir, path) = file(content, 0o600);
    match lookup(&path.to_string_lossy(), key) {
        Lookup::Found(password) => Some(password),
        Lookup::None(none) => {
            assert!(
                matches!(none.reason, Reason::NoMatchingLine),
                "a private, readable file must give a password or NoMatchingLine"
            );
            None
        }
    }
}

#[test]
fn first_matching_line_wins_after_comments_blank_lines_and_other_targets() {
    let content = "# comment:*:*:*:from-a-comment\n\
                   \n\
                   /run/pg:5433:other:jobmon:wrong-database\n\
                   /run/pg:5432:app:jobmon:wrong-port\n\
                   localhost:5433:app:jobmon:wrong-host\n\
                   /run/pg:5433:app:someone:wrong-user\n\
                   /run/pg:5433:app:jobmon:right\n\
                   *:*:*:*:too-late\n";
    assert_eq!(password(content, &KEY).as_deref(), Some("right"));
}

#[test]
fn a_star_field_matches_any_value_but_only_when_it_is_the_whole_field() {
    assert_eq!(password("*:*:*:*:any\n", &KEY).as_deref(), Some("any"));
    assert_eq!(
        password("*:5433:*:jobmon:mixed\n", &KEY).as_deref(),
        Some("mixed")
    );
    // `a*` is a literal, not a pattern.
    assert_eq!(password("/run/p*:5433:app:jobmon:x\n", &KEY), None);
}

#[test]
fn backslash_escapes_colon_and_backslash_in_fields_and_the_password() {
    let key = Key {
        host: "/run/pg",
        port: 5433,
        dbname: "a:b",
        user: "dom\\user",
    };
    assert_eq!(
        password("/run/pg:5433:a\\:b:dom\\\\user:p\\:w\\\\d\n", &key).as_deref(),
        Some("p:w\\d")
    );
    // As in libpq's pwdfMatchesString(), an unescaped colon matches a colon of the value
    // while the value lasts; it ends the field only where the value has ended.
    assert_eq!(
        password("/run/pg:5433:a:b:dom\\\\user:x\n", &key).as_deref(),
        Some("x")
    );
    assert_eq!(password("/run/pg:5433:a:dom\\\\user:x\n", &key), None);
}

#[test]
fn password_ends_at_the_first_unescaped_colon_and_crlf_endings_are_read() {
    assert_eq!(
        password("/run/pg:5433:app:jobmon:secret:extra field\r\n", &KEY).as_deref(),
        Some("secret")
    );
    assert_eq!(
        password("/run/pg:5433:app:jobmon:secret\r\n", &KEY).as_deref(),
        Some("secret")
    );
    // Too few fields: no match.
    assert_eq!(password("/run/pg:5433:app:jobmon\n", &KEY), None);
    // An empty password is a password.
    assert_eq!(
        password("/run/pg:5433:app:jobmon:\n", &KEY).as_deref(),
        Some("")
    );
}

#[test]
fn a_file_group_or_others_may_read_or_write_is_refused_with_its_mode() {
    for mode in [0o644, 0o640, 0o604, 0o620, 0o606] {
        let (_dir, path) = file("*:*:*:*:secret\n", mode);
        match lookup(&path.to_string_lossy(), &KEY) {
            Lookup::None(none) => assert!(
                matches!(none.reason, Reason::Insecure(m) if m == mode),
                "mode {mode:o}"
            ),
            Lookup::Found(_) => panic!("mode {mode:o}: an insecure file gave its password"),
        }
    }
    for mode in [0o600, 0o400] {
        let (_dir, path) = file("*:*:*:*:secret\n", mode);
        assert!(
            matches!(lookup(&path.to_string_lossy(), &KEY), Lookup::Found(p) if p == "secret"),
            "mode {mode:o}"
        );
    }
}

#[test]
fn a_missing_file_and_a_directory_give_no_password_and_say_why() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("none");
    let Lookup::None(none) = lookup(&missing.to_string_lossy(), &KEY) else {
        panic!("a missing file gave a password");
    };
    assert!(matches!(none.reason, Reason::Missing));
    assert_eq!(none.path, missing.to_string_lossy());
    let Lookup::None(none) = lookup(&dir.path().to_string_lossy(), &KEY) else {
        panic!("a directory gave a password");
    };
    assert!(matches!(none.reason, Reason::NotPlainFile));
}

#[test]
fn the_setting_wins_then_pgpassfile_then_home() {
    // The only test of this binary that touches the environment.
    std::env::set_var("HOME", "/home/of/postgres");
    std::env::set_var("PGPASSFILE", "");
    assert_eq!(path(None).as_deref(), Some("/home/of/postgres/.pgpass"));
    std::env::set_var("PGPASSFILE", "/etc/jobmon/pgpass");
    assert_eq!(path(None).as_deref(), Some("/etc/jobmon/pgpass"));
    assert_eq!(
        path(Some("/srv/pgpass".into())).as_deref(),
        Some("/srv/pgpass")
    );
}
