//! The spellings of `jobmon-tracker nagios`'s first command line (psql's `-h HOST`, the
//! tracker's `-c FILE`) that the Monitoring Plugins options now use for something else:
//! rewritten before clap parses, each with a deprecation note for stderr.

use std::ffi::OsString;
use tracker_core::threshold::Range;

/// Options of this subcommand that take a value, so that the value is not read as an option.
const SHORT_WITH_VALUE: &[char] = &['H', 'P', 'p', 'd', 'U', 'l', 't', 'w', 'c'];
const LONG_WITH_VALUE: &[&str] = &[
    "--hostname",
    "--host",
    "--port",
    "--database",
    "--dbname",
    "--username",
    "--logname",
    "--timeout",
    "--warning",
    "--critical",
    "--config",
    "--history",
    "--job",
    "--like",
];

/// Rewrites the spellings of the plugin's first command line that now mean something else:
/// `-h HOST` (host, as with psql; `-h` is now help) becomes `-H HOST`, and `-c FILE` whose
/// value is no threshold range (`-c` is now the critical range) becomes `--config FILE`.
/// Returns the arguments and a deprecation note for each rewrite.
pub(super) fn legacy_args(args: Vec<OsString>) -> (Vec<OsString>, Vec<String>) {
    let mut out = Vec::with_capacity(args.len());
    let mut notes = Vec::new();
    let mut iter = args.into_iter().enumerate().peekable();
    let mut value_next = false;
    while let Some((i, arg)) = iter.next() {
        // The program name and the subcommand; an option's value; anything after `--`.
        let Some(a) = arg.to_str().filter(|_| i >= 2 && !value_next) else {
            value_next = false;
            out.push(arg);
            continue;
        };
        if a == "--" {
            out.push(arg);
            out.extend(iter.map(|(_, a)| a));
            break;
        }
        let next_is_value = iter
            .peek()
            .and_then(|(_, n)| n.to_str())
            .is_some_and(|n| !n.starts_with('-'));
        if a == "-h" && next_is_value {
            notes.push("-h HOST is deprecated (-h is the help now): use -H/--hostname".into());
            out.push("-H".into());
            value_next = true;
            continue;
        }
        if a == "-c" {
            let is_file = iter
                .peek()
                .and_then(|(_, n)| n.to_str())
                .is_some_and(|n| Range::parse(n).is_err());
            if is_file {
                notes.push(
                    "-c FILE is deprecated (-c is the critical range now): use --config FILE"
                        .into(),
                );
                out.push("--config".into());
                value_next = true;
                continue;
            }
        }
        if let Some(long) = a.strip_prefix("--") {
            value_next = !long.contains('=') && LONG_WITH_VALUE.contains(&a);
        } else if let Some(shorts) = a.strip_prefix('-') {
            // A cluster of flags (-vv) may end in an option whose value follows (-vH db1).
            value_next = shorts
                .chars()
                .position(|c| SHORT_WITH_VALUE.contains(&c))
                .is_some_and(|p| p == shorts.chars().count() - 1);
        }
        out.push(arg);
    }
    (out, notes)
}

/// Prints the deprecation notes of [`legacy_args`] on stderr (stdout is what Nagios shows).
pub(super) fn print_notes(notes: &[String]) {
    for n in notes {
        super::note(&format!("jobmon-tracker nagios: {n}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_spellings_are_rewritten_with_a_note_and_new_ones_left_alone() {
        let rewrite = |v: &[&str]| {
            let args = ["jobmon-tracker", "nagios"]
                .iter()
                .chain(v)
                .map(OsString::from)
                .collect();
            let (out, notes) = legacy_args(args);
            let out: Vec<String> = out[2..]
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            (out, notes.len())
        };
        let same = |v: &[&str]| {
            assert_eq!(
                rewrite(v),
                (v.iter().map(|s| s.to_string()).collect(), 0),
                "{v:?}"
            )
        };
        assert_eq!(
            rewrite(&["-h", "db1", "-c", "/etc/t.toml"]),
            (
                vec![
                    "-H".into(),
                    "db1".into(),
                    "--config".into(),
                    "/etc/t.toml".into()
                ],
                2
            )
        );
        assert_eq!(rewrite(&["-c", "x.toml", "-d", "appdb"]).0[0], "--config");
        same(&["-h"]);
        same(&["-h", "-d", "appdb"]);
        same(&["-c", "3", "-w", "@2:4"]);
        same(&["-c", "10:"]);
        // Values of other options are not options, and nothing after -- is touched.
        same(&["--job", "-h", "-d", "-c"]);
        same(&["-d", "-h", "x"]);
        same(&["-vH", "-h", "x"]);
        same(&["--", "-h", "db1"]);
    }
}
