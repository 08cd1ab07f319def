//! `jobmon-tracker nagios`: a Nagios/Icinga plugin around pg_jobmon's `check_job_status()`.
//! It connects the way the tracker (or psql) would, runs the check once within a time limit,
//! prints a status line with perfdata and one line per alert, and exits with the state
//! (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). Building the report is plain Rust, tested below.

use super::parse_timeout;
use crate::config::Database;
use crate::store::connect::{pg_config, PgConfig, ProcessEnv};
use crate::store::pg_error_text;
use clap::{ArgAction, Args};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::time::Instant;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config};
use tracker_core::threshold::Range;

/// The service name at the start of the status line.
const SERVICE: &str = "JOBMON";
/// Longest status line summary in characters: notifications (mail subjects, SMS) and
/// service overviews show the first line only, and a list of hundreds of jobs helps nobody.
const SUMMARY_MAX_CHARS: usize = 200;
/// Long output beyond this many alert lines of at most this many characters is cut, so
/// that all of it fits the 8 KiB of plugin output Nagios keeps.
const LONG_OUTPUT_MAX_LINES: usize = 30;
const LONG_LINE_MAX_CHARS: usize = 200;
/// How long a query that ran out of time is given to be cancelled on the server.
const CANCEL_GRACE: Duration = Duration::from_secs(1);

// `@extschema@` is the quote_ident()ed schema found by find_schema.sql.
const CHECK_SQL: &str = include_str!("../../../sql/tracker/nagios_check.sql");
const CHECK_HISTORY_SQL: &str = include_str!("../../../sql/tracker/nagios_check_history.sql");

#[derive(Debug, Args)]
#[command(
    disable_help_flag = true,
    after_help = "Output (Nagios plugin guidelines: a status line with perfdata, then one line per alert):
  JOBMON OK - All jobs run successfully | critical=0 warning=0 unknown=0 problems=0 time=0.004s
  JOBMON CRITICAL - 2 problems: NIGHTLY_LOAD (FAILED_RUN), VACUUM_BIG (MISSING) | critical=1 warning=1 unknown=0 problems=2 time=0.011s
  CRITICAL - NIGHTLY_LOAD (FAILED_RUN): 3 consecutive CRITICAL runs
  WARNING - VACUUM_BIG (MISSING): Last completed run: 2024-05-01 02:13:07+02
With -w/-c the problems perfdata carries them: problems=2;1;3;0

Exit status (the state):
  0 OK        check_job_status() returned its single OK row (or no problem of the
              jobs selected by --job/--like)
  1 WARNING   some alert has alert_code 2
  2 CRITICAL  some alert has alert_code 3 or higher (alert_status UNKNOWN excepted)
  3 UNKNOWN   the worst alerts have alert_status UNKNOWN (e.g. a tracked job whose data is
              stale), or the database cannot be reached, the extension is missing, the
              query fails or times out, or the command line is wrong
  CRITICAL wins over UNKNOWN, UNKNOWN over WARNING.
That is without -w/-c. With -w and/or -c the number of problems (rows that are not OK,
after --job/--like) decides instead: CRITICAL if it alerts the -c range, else WARNING if it
alerts the -w range, else OK; the plugin's own failures stay UNKNOWN. Ranges (Monitoring
Plugins guidelines): 10 alerts outside 0..10, 10: below 10, ~:10 above 10, 10:20 outside
10..20, @10:20 inside 10..20 (both ends included).

Old spellings: -h HOST (followed by a value) still means -H HOST, and -c FILE whose value is
no range still means --config FILE; both print a note on stderr.

Examples:
  jobmon-tracker nagios -H db1 -U nagios -d appdb
  jobmon-tracker nagios -H db1 -U nagios -d appdb --job NIGHTLY_LOAD
  jobmon-tracker nagios -H db1 -l nagios -d appdb --like 'DWH\\_%' -w 1 -c 3
  jobmon-tracker nagios -d 'postgresql://nagios@db1:5432/appdb?connect_timeout=5'
  jobmon-tracker nagios --config /etc/jobmon-tracker/jobmon-tracker.toml --history '3 days'
  PGHOST=/var/run/postgresql PGDATABASE=appdb jobmon-tracker nagios --timeout 5s

Nagios command definition:
  define command {
      command_name  check_jobmon
      command_line  /usr/bin/jobmon-tracker nagios -H $HOSTADDRESS$ -U nagios -d $ARG1$ $ARG2$
  }"
)]
pub struct NagiosArgs {
    /// Connect as the tracker with this configuration file does (its [database] section).
    ///
    /// TOML, or the 2016 job_tracker JSON. Cannot be combined with -d, -H, -P or -U.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["dbname", "host", "port", "username"])]
    pub config: Option<PathBuf>,
    /// Database name, or a whole connection string ("host=db1 dbname=appdb") or URI
    /// ("postgresql://user@db1/appdb"), as with psql.
    ///
    /// What it leaves unset comes from -H, -P, -U, then PGHOST, PGPORT, PGUSER, PGDATABASE,
    /// then libpq's defaults (socket directory /var/run/postgresql, port 5432, the OS user,
    /// database = user name). The password, when the server asks for one, is read from
    /// PGPASSFILE or ~/.pgpass; it is never given on the command line.
    #[arg(
        short,
        long = "database",
        visible_alias = "dbname",
        value_name = "DBNAME|CONNINFO"
    )]
    pub dbname: Option<String>,
    /// Database server host, or a Unix socket directory (a path starting with /).
    #[arg(
        short = 'H',
        long = "hostname",
        visible_alias = "host",
        value_name = "HOST"
    )]
    pub host: Option<String>,
    /// Database server port (-p also works).
    #[arg(short = 'P', long, visible_short_alias = 'p', value_name = "PORT")]
    pub port: Option<u16>,
    /// Database user (needs EXECUTE on check_job_status and SELECT on pg_jobmon's tables).
    #[arg(
        short = 'U',
        long,
        visible_short_alias = 'l',
        visible_alias = "logname",
        value_name = "USER"
    )]
    pub username: Option<String>,
    /// How far back to look, passed to check_job_status(interval), e.g. '3 days'.
    ///
    /// Without it check_job_status() uses the longest active threshold of job_check_config
    /// (one week when there is none). PostgreSQL rejects a value shorter than that
    /// threshold, which makes the check UNKNOWN.
    #[arg(long, value_name = "INTERVAL")]
    pub history: Option<String>,
    /// Report only this job (its job_name exactly as check_job_status() shows it); repeat
    /// for several. With --like, a row is reported when it matches either.
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,
    /// Report only jobs whose job_name matches this SQL LIKE pattern (e.g. 'DWH\_%');
    /// repeatable.
    #[arg(long = "like", value_name = "PATTERN")]
    pub likes: Vec<String>,
    /// WARNING when the number of problems alerts this range (e.g. 1, 5:, @2:4).
    #[arg(short, long, value_name = "RANGE", value_parser = Range::parse)]
    pub warning: Option<Range>,
    /// CRITICAL when the number of problems alerts this range (checked before -w).
    #[arg(short, long, value_name = "RANGE", value_parser = Range::parse)]
    pub critical: Option<Range>,
    /// Time limit for connecting and running the check, e.g. 10s, 1500ms, 1m (a bare
    /// number is seconds); past it the check is UNKNOWN and its query is cancelled.
    #[arg(short, long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// More output: -v adds a line saying what was checked (connection, rows, selection,
    /// thresholds); more v's say no more.
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,
    /// Print the help (the whole of it, with -h too).
    #[arg(short, long, action = ArgAction::HelpLong)]
    pub help: Option<bool>,
}

/// A Nagios state is the plugin's exit status: the core's check state and its code.
pub use tracker_core::state::State;

/// One row of check_job_status(). Every column is read as nullable: a NULL is reported,
/// not a reason to fail the check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusRow {
    pub alert_code: Option<i32>,
    pub alert_status: Option<String>,
    pub job_name: Option<String>,
    pub alert_text: Option<String>,
}

impl StatusRow {
    /// The state this row alone stands for.
    pub fn state(&self) -> State {
        if self.alert_status.as_deref() == Some("UNKNOWN") {
            return State::Unknown;
        }
        match self.alert_code {
            Some(code) if code >= 3 => State::Critical,
            Some(2) => State::Warning,
            Some(_) => State::Ok,
            // Not a code pg_jobmon produces; say so rather than guess.
            None => State::Unknown,
        }
    }

    /// `JOB (STATUS)`, or just the status for a row without a job.
    fn label(&self) -> String {
        let status = self.alert_status.as_deref().unwrap_or("?");
        match &self.job_name {
            Some(job) => format!("{job} ({status})"),
            None => status.to_string(),
        }
    }
}

/// What the plugin prints and how it exits.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub state: State,
    /// The whole output, lines ending in `\n`.
    pub text: String,
}

impl Report {
    /// An UNKNOWN without perfdata: nothing was measured.
    pub fn unknown(reason: &str) -> Report {
        Report {
            state: State::Unknown,
            text: format!(
                "{SERVICE} UNKNOWN - {}\n",
                clean(reason, SUMMARY_MAX_CHARS * 2)
            ),
        }
    }
}

/// How the rows are judged beyond their own states: thresholds on the number of problems,
/// and whether --job/--like chose some rows only (so that none left is no error).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Judgement {
    pub warning: Option<Range>,
    pub critical: Option<Range>,
    pub selective: bool,
}

impl Judgement {
    /// The state for `problems` under -w/-c (critical first), or None without either.
    fn by_count(&self, problems: usize) -> Option<State> {
        if self.warning.is_none() && self.critical.is_none() {
            return None;
        }
        let n = problems as f64;
        Some(if self.critical.as_ref().is_some_and(|r| r.alerts(n)) {
            State::Critical
        } else if self.warning.as_ref().is_some_and(|r| r.alerts(n)) {
            State::Warning
        } else {
            State::Ok
        })
    }

    /// `;warn;crit;min` for the problems perfdata when a threshold was given (the
    /// guidelines' optional fields, left out entirely otherwise as before).
    fn perf_suffix(&self) -> String {
        if self.warning.is_none() && self.critical.is_none() {
            return String::new();
        }
        let text = |r: &Option<Range>| r.as_ref().map(Range::to_string).unwrap_or_default();
        format!(";{};{};0", text(&self.warning), text(&self.critical))
    }
}

/// The report on the rows of check_job_status(), which took `elapsed` (connection included).
pub fn report(rows: &[StatusRow], elapsed: Duration) -> Report {
    report_with(rows, elapsed, &Judgement::default())
}

/// The report on the rows that were selected, judged by `j`.
pub fn report_with(rows: &[StatusRow], elapsed: Duration, j: &Judgement) -> Report {
    if rows.is_empty() && !j.selective {
        return Report::unknown("check_job_status() returned no row (not pg_jobmon's function?)");
    }
    // Worst first; a stable sort keeps check_job_status()'s order (code, job) within a state.
    let mut problems: Vec<(State, &StatusRow)> = rows
        .iter()
        .map(|r| (r.state(), r))
        .filter(|(s, _)| *s != State::Ok)
        .collect();
    problems.sort_by_key(|(s, _)| std::cmp::Reverse(s.badness()));
    let count = |state: State| problems.iter().filter(|(s, _)| *s == state).count();
    let worst = problems.first().map_or(State::Ok, |(s, _)| *s);
    let state = j.by_count(problems.len()).unwrap_or(worst);
    let perfdata = format!(
        "critical={} warning={} unknown={} problems={}{} time={:.3}s",
        count(State::Critical),
        count(State::Warning),
        count(State::Unknown),
        problems.len(),
        j.perf_suffix(),
        elapsed.as_secs_f64()
    );
    let summary = if problems.is_empty() && j.selective {
        "No problem in the selected jobs".to_string()
    } else if problems.is_empty() {
        "All jobs run successfully".to_string()
    } else {
        let labels: Vec<String> = problems
            .iter()
            .map(|(_, r)| clean(&r.label(), SUMMARY_MAX_CHARS / 2))
            .collect();
        let head = format!(
            "{} problem{}: ",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        let room = SUMMARY_MAX_CHARS.saturating_sub(head.len());
        head + &join_within(&labels, room)
    };
    let mut text = format!("{SERVICE} {} - {summary} | {perfdata}\n", state.as_str());
    for (s, r) in problems.iter().take(LONG_OUTPUT_MAX_LINES) {
        let line = format!(
            "{} - {}: {}",
            s.as_str(),
            r.label(),
            r.alert_text.as_deref().unwrap_or("")
        );
        text.push_str(&clean(&line, LONG_LINE_MAX_CHARS));
        text.push('\n');
    }
    if problems.len() > LONG_OUTPUT_MAX_LINES {
        text.push_str(&format!(
            "... and {} more\n",
            problems.len() - LONG_OUTPUT_MAX_LINES
        ));
    }
    Report { state, text }
}

/// `a, b, c` within `max` characters; what does not fit becomes `, ... and N more`.
fn join_within(items: &[String], max: usize) -> String {
    let all = items.join(", ");
    if all.chars().count() <= max {
        return all;
    }
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let rest = items.len() - i - 1;
        // Room for the tail that would follow if this were the last item shown.
        let tail = if rest > 0 {
            format!(", ... and {rest} more").chars().count()
        } else {
            0
        };
        let used = out.chars().count() + sep.len() + item.chars().count();
        if i > 0 && used + tail > max {
            out.push_str(&format!(", ... and {} more", items.len() - i));
            return out;
        }
        out.push_str(sep);
        out.push_str(item);
    }
    out
}

/// One line of plugin text: no `|` (it starts perfdata), no line breaks or other control
/// characters, at most `max` characters.
fn clean(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(3)).collect();
        out.push_str("...");
    }
    out
}

/// Whether the command line runs this subcommand (the first argument, as there are no
/// global options before it), so that its usage errors can exit UNKNOWN.
pub fn invoked(mut args: impl Iterator<Item = OsString>) -> bool {
    args.nth(1).is_some_and(|a| a == "nagios")
}

/// Exit state of `--help`/`-h`: UNKNOWN, as the C plugins' print_help();
/// exit(STATE_UNKNOWN): a service defined with it by mistake must not show OK.
pub const HELP_STATE: State = State::Unknown;
/// Exit state of `--version`/`-V`: UNKNOWN, as the C plugins' print_revision();
/// exit(STATE_UNKNOWN): it is no check result, so a service wrongly defined with it is not
/// shown as OK.
pub const VERSION_STATE: State = State::Unknown;

/// A wrong command line of this subcommand: UNKNOWN on stdout (what Nagios shows), clap's
/// full message with the usage on stderr.
pub fn usage_error(e: &clap::Error) -> ExitCode {
    let rendered = e.to_string();
    let first = rendered.lines().next().unwrap_or("");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let r = Report::unknown(&format!(
        "invalid command line: {first} (see jobmon-tracker nagios --help)"
    ));
    emit(&r);
    let _ = e.print();
    ExitCode::from(r.state.code())
}

/// Runs the check, prints the report and returns its state (the exit status).
pub fn run(args: &NagiosArgs) -> State {
    let r = check(args);
    emit(&r);
    r.state
}

fn emit(r: &Report) {
    // A closed stdout leaves nothing to report to; the exit status still tells the state.
    let _ = super::print(&r.text);
}

fn check(args: &NagiosArgs) -> Report {
    let started = std::time::Instant::now();
    let config = match connection_config(args) {
        Ok(c) => c,
        Err(e) => return Report::unknown(&e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Report::unknown(&format!("cannot start the runtime: {e}")),
    };
    let selection = Selection {
        history: args.history.as_deref(),
        jobs: &args.jobs,
        likes: &args.likes,
    };
    let result = runtime.block_on(query(&config, &selection, args.timeout));
    // A host name lookup that is still hanging runs on a blocking thread: do not wait for it.
    runtime.shutdown_background();
    let rows = match result {
        Ok(rows) => rows,
        Err(reason) => return Report::unknown(&reason),
    };
    if rows.is_empty() {
        return report(&[], started.elapsed());
    }
    let all = rows.len();
    let selected: Vec<StatusRow> = rows
        .into_iter()
        .filter(|(_, s)| *s)
        .map(|(r, _)| r)
        .collect();
    let judgement = Judgement {
        warning: args.warning.clone(),
        critical: args.critical.clone(),
        selective: !args.jobs.is_empty() || !args.likes.is_empty(),
    };
    let mut r = report_with(&selected, started.elapsed(), &judgement);
    if args.verbose > 0 {
        let line = format!(
            "checked {}: {all} row{} from check_job_status(), {} selected by --job/--like; \
             warning range {}, critical range {}",
            target(&config),
            if all == 1 { "" } else { "s" },
            selected.len(),
            args.warning
                .as_ref()
                .map_or("none".into(), Range::to_string),
            args.critical
                .as_ref()
                .map_or("none".into(), Range::to_string),
        );
        r.text.push_str(&clean(&line, LONG_LINE_MAX_CHARS * 2));
        r.text.push('\n');
    }
    r
}

/// What to ask check_job_status() for, and which of its rows to report.
struct Selection<'a> {
    history: Option<&'a str>,
    jobs: &'a [String],
    likes: &'a [String],
}

/// The connection settings: the tracker configuration's [database] section, or the
/// psql-like options, completed from the environment as libpq would.
fn connection_config(args: &NagiosArgs) -> Result<PgConfig, String> {
    let db = match &args.config {
        Some(path) => {
            crate::config::load(path)
                .map_err(|e| format!("cannot use the configuration: {e}"))?
                .config
                .database
        }
        None => {
            let (conninfo, dbname) = match &args.dbname {
                Some(d) if is_conninfo(d) => (Some(d.clone()), None),
                other => (None, other.clone()),
            };
            Database {
                conninfo,
                dbname,
                host: args.host.clone(),
                port: args.port,
                user: args.username.clone(),
                password_file: None,
                ..Database::default()
            }
        }
    };
    let mut config =
        pg_config(&db, &ProcessEnv).map_err(|e| format!("cannot connect to the database: {e}"))?;
    // Tell the checks apart from the daemon in pg_stat_activity, unless the user named them.
    if config.get_application_name() == Some("jobmon-tracker") {
        config.application_name("jobmon-tracker nagios");
    }
    Ok(config)
}

/// psql's rule: a dbname with `=` or a URI scheme is a whole connection string.
fn is_conninfo(dbname: &str) -> bool {
    dbname.contains('=') || dbname.starts_with("postgresql://") || dbname.starts_with("postgres://")
}

/// Connects and runs check_job_status(), all within `timeout`.
async fn query(
    config: &PgConfig,
    selection: &Selection<'_>,
    timeout: Duration,
) -> Result<Vec<(StatusRow, bool)>, String> {
    let deadline = Instant::now() + timeout;
    let out_of_time = |doing: &str| {
        format!(
            "timed out after {} {doing}",
            humantime::format_duration(timeout)
        )
    };
    let (client, connection) = match tokio::time::timeout_at(deadline, config.connect()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            return Err(format!(
                "cannot connect to the database: {} ({})",
                pg_error_text(&e),
                target(config)
            ))
        }
        Err(_) => {
            return Err(out_of_time(&format!(
                "connecting to the database ({})",
                target(config)
            )))
        }
    };
    tokio::spawn(connection);
    let cancel = client.cancel_token();
    match tokio::time::timeout_at(deadline, rows(&client, selection)).await {
        Ok(result) => result,
        Err(_) => {
            // Leave nothing running on the server for a check nobody waits for anymore.
            let _ = tokio::time::timeout(CANCEL_GRACE, cancel.cancel_query(config.tls())).await;
            Err(out_of_time("waiting for check_job_status()"))
        }
    }
}

/// The rows of check_job_status(), each with whether --job/--like selected it (decided by
/// the server from parameters, like everything the user typed).
async fn rows(
    client: &Client,
    selection: &Selection<'_>,
) -> Result<Vec<(StatusRow, bool)>, String> {
    let schema: Option<String> = client
        .query_opt(include_str!("../../../sql/tracker/find_schema.sql"), &[])
        .await
        .map_err(|e| {
            format!(
                "cannot look up the pg_jobmon extension: {}",
                pg_error_text(&e)
            )
        })?
        .map(|r| r.get(0));
    let schema = schema.ok_or("the pg_jobmon extension is not installed in this database")?;
    let (jobs, likes) = (selection.jobs, selection.likes);
    let result = match selection.history {
        Some(h) => {
            client
                .query(
                    &CHECK_HISTORY_SQL.replace("@extschema@", &schema),
                    &[&h, &jobs, &likes],
                )
                .await
        }
        None => {
            client
                .query(&CHECK_SQL.replace("@extschema@", &schema), &[&jobs, &likes])
                .await
        }
    };
    let rows = result.map_err(|e| format!("check_job_status() failed: {}", pg_error_text(&e)))?;
    rows.iter()
        .map(|r| {
            let row = StatusRow {
                alert_code: r.try_get(0)?,
                alert_status: r.try_get(1)?,
                job_name: r.try_get(2)?,
                alert_text: r.try_get(3)?,
            };
            Ok((row, r.try_get::<_, Option<bool>>(4)?.unwrap_or(false)))
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(|e| {
            format!(
                "check_job_status() returned unexpected columns: {}",
                pg_error_text(&e)
            )
        })
}

/// Where the connection went, for the operator (never the password).
fn target(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "host={} port={} dbname={} user={}",
        hosts.join(","),
        ports.join(","),
        config.get_dbname().unwrap_or("?"),
        config.get_user().unwrap_or("?")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(code: i32, status: &str, job: Option<&str>, text: &str) -> StatusRow {
        StatusRow {
            alert_code: Some(code),
            alert_status: Some(status.into()),
            job_name: job.map(Into::into),
            alert_text: Some(text.into()),
        }
    }

    fn ok_row() -> StatusRow {
        row(1, "OK", None, "All jobs run successfully")
    }

    const T: Duration = Duration::from_millis(12);

    #[test]
    fn the_single_ok_row_is_ok_without_long_output() {
        let r = report(&[ok_row()], T);
        assert_eq!(r.state, State::Ok);
        assert_eq!(
            r.text,
            "JOBMON OK - All jobs run successfully | critical=0 warning=0 unknown=0 problems=0 time=0.012s\n"
        );
    }

    #[test]
    fn alerts_are_counted_listed_worst_first_and_explained_one_per_line() {
        let rows = [
            row(
                3,
                "FAILED_RUN",
                Some("FLAKY"),
                "3 consecutive CRITICAL runs",
            ),
            row(2, "MISSING", Some("LATE"), "Last completed run: x"),
            row(3, "MISSING", Some("GONE"), "Has not completed a run"),
        ];
        let r = report(&rows, T);
        assert_eq!(r.state, State::Critical);
        assert_eq!(
            r.text,
            "JOBMON CRITICAL - 3 problems: FLAKY (FAILED_RUN), GONE (MISSING), LATE (MISSING) \
             | critical=2 warning=1 unknown=0 problems=3 time=0.012s\n\
             CRITICAL - FLAKY (FAILED_RUN): 3 consecutive CRITICAL runs\n\
             CRITICAL - GONE (MISSING): Has not completed a run\n\
             WARNING - LATE (MISSING): Last completed run: x\n"
        );
    }

    #[test]
    fn precedence_is_critical_then_unknown_then_warning() {
        let warn = row(2, "MISSING", Some("W"), "");
        let unknown = row(3, "UNKNOWN", Some("U"), "data stale");
        let crit = row(4, "FAILED_RUN", Some("C"), "");
        assert_eq!(report(std::slice::from_ref(&warn), T).state, State::Warning);
        let r = report(&[warn.clone(), unknown.clone()], T);
        assert_eq!(r.state, State::Unknown);
        assert!(
            r.text.starts_with("JOBMON UNKNOWN - 2 problems: U (UNKNOWN), W (MISSING) | critical=0 warning=1 unknown=1 problems=2 "),
            "{}",
            r.text
        );
        assert_eq!(report(&[warn, unknown, crit], T).state, State::Critical);
        assert_eq!(report(&[], T).state, State::Unknown);
    }

    #[test]
    fn one_problem_is_singular_and_a_row_without_job_shows_its_status() {
        let r = report(&[row(3, "STALE", None, "tracker stopped")], T);
        assert!(
            r.text
                .starts_with("JOBMON CRITICAL - 1 problem: STALE | critical=1 "),
            "{}",
            r.text
        );
    }

    #[test]
    fn pipes_and_line_breaks_in_job_names_cannot_break_the_output() {
        let r = report(&[row(2, "MISSING", Some("A|B\nC"), "x|y")], T);
        assert_eq!(r.text.matches('|').count(), 1, "{}", r.text);
        assert_eq!(r.text.lines().count(), 2, "{}", r.text);
        assert!(r.text.contains("A/B C (MISSING)"), "{}", r.text);
    }

    #[test]
    fn a_long_list_of_problems_is_cut_with_a_count() {
        let rows: Vec<StatusRow> = (0..400)
            .map(|i| row(3, "FAILED_RUN", Some(&format!("JOB_NUMBER_{i:03}")), "t"))
            .collect();
        let r = report(&rows, T);
        let first = r.text.lines().next().unwrap();
        let summary = first.split(" | ").next().unwrap();
        assert!(summary.chars().count() <= "JOBMON CRITICAL - ".len() + SUMMARY_MAX_CHARS);
        assert!(
            summary.starts_with("JOBMON CRITICAL - 400 problems: JOB_NUMBER_000 (FAILED_RUN), ")
        );
        assert!(summary.ends_with(" more"), "{summary}");
        assert!(first.ends_with("problems=400 time=0.012s"), "{first}");
        assert_eq!(r.text.lines().count(), 1 + LONG_OUTPUT_MAX_LINES + 1);
        assert!(r
            .text
            .ends_with(&format!("... and {} more\n", 400 - LONG_OUTPUT_MAX_LINES)));
        // One very long name still leaves a bounded line.
        let long = "X".repeat(1000);
        let r = report(&[row(2, "MISSING", Some(&long), "t")], T);
        assert!(
            r.text.lines().all(|l| l.chars().count() < 400),
            "{}",
            r.text
        );
    }

    #[test]
    fn join_within_keeps_what_fits() {
        let items: Vec<String> = ["aa", "bb", "cc"].iter().map(|s| s.to_string()).collect();
        assert_eq!(join_within(&items, 100), "aa, bb, cc");
        assert_eq!(join_within(&items, 10), "aa, bb, cc");
        assert_eq!(join_within(&items, 9), "aa, ... and 2 more");
    }

    #[test]
    fn timeouts_take_seconds_or_humantime() {
        assert_eq!(parse_timeout("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_timeout("2.5").unwrap(), Duration::from_millis(2500));
        assert_eq!(
            parse_timeout("1500ms").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_timeout("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn psql_rules_tell_a_dbname_from_a_connection_string() {
        assert!(!is_conninfo("appdb"));
        assert!(is_conninfo("host=db1 dbname=appdb"));
        assert!(is_conninfo("postgresql://u@db1/appdb"));
        assert!(is_conninfo("postgres://db1"));
    }

    #[test]
    fn only_this_subcommand_is_recognised_for_unknown_usage_errors() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>().into_iter();
        assert!(invoked(args(&["jobmon-tracker", "nagios", "--bogus"])));
        assert!(!invoked(args(&["jobmon-tracker", "queue", "nagios"])));
        assert!(!invoked(args(&["jobmon-tracker"])));
    }

    fn judged(w: Option<&str>, c: Option<&str>) -> Judgement {
        Judgement {
            warning: w.map(|r| Range::parse(r).unwrap()),
            critical: c.map(|r| Range::parse(r).unwrap()),
            selective: false,
        }
    }

    /// `n` failed jobs, or check_job_status()'s OK row for none.
    fn problems(n: usize) -> Vec<StatusRow> {
        if n == 0 {
            return vec![ok_row()];
        }
        (0..n)
            .map(|i| row(3, "FAILED_RUN", Some(&format!("J{i}")), "t"))
            .collect()
    }

    #[test]
    fn thresholds_on_the_number_of_problems_replace_the_worst_row_critical_first() {
        let states = |j: &Judgement| -> Vec<State> {
            (0..6)
                .map(|n| report_with(&problems(n), T, j).state)
                .collect()
        };
        use State::{Critical as C, Ok as O, Warning as W};
        assert_eq!(states(&judged(Some("1"), Some("3"))), [O, O, W, W, C, C]);
        assert_eq!(states(&judged(Some("@2:4"), None)), [O, O, W, W, W, O]);
        assert_eq!(states(&judged(None, Some("~:0"))), [O, C, C, C, C, C]);
        // Without thresholds the rows' own states decide, as before.
        assert_eq!(states(&Judgement::default()), [O, C, C, C, C, C]);
        let r = report_with(&problems(2), T, &judged(Some("1"), Some("3")));
        assert!(
            r.text.starts_with(
                "JOBMON WARNING - 2 problems: J0 (FAILED_RUN), J1 (FAILED_RUN) \
                 | critical=2 warning=0 unknown=0 problems=2;1;3;0 time=0.012s\n"
            ),
            "{}",
            r.text
        );
        // The long output keeps each row's own state.
        assert!(
            r.text.contains("\nCRITICAL - J0 (FAILED_RUN): t\n"),
            "{}",
            r.text
        );
        let r = report_with(&problems(0), T, &judged(None, Some("5")));
        assert!(r.text.contains("problems=0;;5;0 "), "{}", r.text);
    }

    #[test]
    fn a_selection_without_rows_is_ok_and_says_so() {
        let j = Judgement {
            selective: true,
            ..Judgement::default()
        };
        let r = report_with(&[], T, &j);
        assert_eq!(r.state, State::Ok);
        assert_eq!(
            r.text,
            "JOBMON OK - No problem in the selected jobs | critical=0 warning=0 unknown=0 problems=0 time=0.012s\n"
        );
    }
}
