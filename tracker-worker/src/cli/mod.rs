//! The command line: `jobmon-tracker queue ...` and `jobmon-tracker config ...`. The
//! argument definitions double as the `--help` text, so their doc comments are the manual.
//!
//! Exit codes: 0 success, 1 runtime error (file missing, not SQLite, invalid
//! configuration, ...), 2 usage error (unknown option, missing or malformed argument,
//! including a `-j` value that is not a JSON object). `nagios` exits with a Nagios state
//! instead (0-3, usage errors 3).

mod check_cmd;
mod config_cmd;
mod exec_cmd;
pub mod nagios;
mod nagios_legacy;
mod queue_cmd;
mod suggest_cmd;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Watches batch jobs that run outside the database: reads the status messages jobs write
/// into SQLite queue files (locally or over SSH), stores them in pg_jobmon and reports
/// whether each job ran, ran on time and succeeded.
#[derive(Debug, Parser)]
#[command(name = "jobmon-tracker", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write to or read from a job status queue file (SQLite).
    ///
    /// Compatible with the 2016 job_tracker's message-queue.py: same file format and the
    /// same add/list/length/remove options, so producers and scripts keep working. `read`
    /// and `ack` are what the tracker runs on a source host to fetch and acknowledge.
    Queue(QueueArgs),
    /// Check a configuration file, or convert a 2016 job_tracker JSON file to TOML.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the tracker: poll every source, store new messages in pg_jobmon, repeat.
    ///
    /// Every poll interval each source is read (up to read_batch_size messages per
    /// transaction, until it has nothing new) and its messages, runs and steps are stored
    /// with the source's cursor in one transaction: exactly once, whatever fails when.
    /// Sources are leased in the database, so several trackers can run against one database;
    /// a source of a tracker that died is taken over within 2 x (poll_interval +
    /// source_timeout) plus one poll interval. After each poll every job is evaluated and
    /// the configured outputs (state files, spool file, Prometheus file, Event Console, the
    /// states in PostgreSQL) are written.
    ///
    /// Signals: SIGTERM or SIGINT finish the batch being stored and exit 0; SIGHUP reloads
    /// the configuration (an invalid one is logged and the running one kept) and reopens the
    /// log file. Logs go to stderr (the journal under systemd) or global.log_file; the
    /// environment variable JOBMON_TRACKER_LOG overrides the level (e.g. "debug").
    /// With a [web] table it also serves the dashboard (see `web`; not with --once); the
    /// [web] settings take effect at a restart, not at SIGHUP.
    ///
    /// Exit status: 0 after a signal or with --once, 1 when it cannot start (e.g. an invalid
    /// configuration), 2 for a wrong command line.
    Run(RunArgs),
    /// Print every configured job's Checkmk local-check line, evaluated now.
    ///
    /// Reads the jobs' messages and the sources' health from PostgreSQL (what the daemon
    /// stored), applies the timing rules and prints `<0-3> "<service>" <metrics> <text>`,
    /// one line per job in configuration order. It reads only, so it runs safely next to
    /// `run`. Installed as a Checkmk local check (a script in the agent's local/ directory
    /// that execs it; the agent adds the section header) it replaces the state files; from
    /// the agent's plugins/ directory use --header. When PostgreSQL cannot be
    /// reached every job is UNKNOWN with the reason; the exit status is 0 unless the
    /// configuration is invalid (1) or the command line wrong (2). With output.piggyback
    /// each job is printed in a piggyback section of its source's Checkmk host, and only
    /// the jobs of the sources that a tracker on this host holds. --sources prints which
    /// tracker holds which source instead (exit status 1 if PostgreSQL cannot be read).
    Check(CheckArgs),
    /// Nagios/Icinga plugin: report check_job_status() of a pg_jobmon database.
    ///
    /// Connects (with the tracker's configuration, or the Monitoring Plugins' -H/-P/-U/-d
    /// options and the PG* environment), runs check_job_status() once and prints
    /// `JOBMON <STATE> - <summary> | <perfdata>` and one line per alert, optionally of the
    /// jobs selected by --job/--like only and judged by -w/-c ranges on the number of
    /// problems. Unlike the other commands its exit status is the Nagios state: 0 OK,
    /// 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for an unreachable database, a timeout, a
    /// wrong command line or --version).
    Nagios(nagios::NagiosArgs),
    /// Serve the dashboard: job pages, a timeline and a JSON API over pg_jobmon.
    ///
    /// Needs only [database] and a [web] table in the configuration (no sources), and only
    /// SELECT rights. Pages: / (every job with its state as check_job_status() and the
    /// tracker see it, filters by state and name), /timeline, /job?name=JOB (runs and a
    /// chart of their durations), /run/JOB_ID (its steps); the same as JSON under /api/;
    /// /metrics (Prometheus text of the tracked jobs) and /healthz. It listens on
    /// 127.0.0.1:8470 unless web.listen says otherwise; an address reachable from other
    /// hosts is refused without web.tls_cert/tls_key and web.users_file or
    /// web.auth_header, unless web.insecure = true. Prints its URL on stderr when it
    /// listens. SIGTERM or SIGINT stop it (exit 0); exit 1 when it cannot start.
    Web(WebArgs),
    /// Run a command as a tracked job: report its start, end, exit status and duration.
    ///
    /// Writes a start message into the queue file, runs COMMAND (directly, no shell) with
    /// stdin and stdout passed through and stderr passed through and its last 4 KB kept,
    /// forwards SIGTERM, SIGINT and SIGHUP to it, and writes the end: on exit status 0 the
    /// end keyword ("exit status 0 after 12.345s"); otherwise the error keyword with the
    /// exit status or the signal, the duration and the last lines of stderr, then the end
    /// keyword (the run ends, as CRITICAL). The message keywords are the configuration's
    /// (-c) or the defaults STARTED, ERROR, SUCCESS.
    ///
    /// If the queue cannot be written the command runs all the same: each message it did
    /// not take is appended as a JSON line (`queue add -j` takes it; "timestamp" is when it
    /// happened) to the first writable of QUEUE.unsent.jsonl,
    /// $XDG_RUNTIME_DIR/jobmon-tracker-exec-unsent-UID.jsonl, the same in $TMPDIR and in
    /// /tmp, or printed on stderr if none is, and stderr says where it went.
    ///
    /// Exit status: the command's; 128+N if a signal N killed it; 124 if --timeout expired;
    /// 127 if the command was not found, 126 if it cannot be executed (as a shell);
    /// 125 if the configuration given with -c cannot be read (the command is not run);
    /// 2 for a wrong command line.
    Exec(ExecArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  jobmon-tracker exec --job LOAD_DWH --env P --queue /var/spool/jobmon/queue.sqlite -- /opt/dwh/load.sh --full
  # crontab (no shell needed around it; PATH is cron's):
  30 2 * * * /usr/bin/jobmon-tracker exec --job BACKUP --env P --queue /var/spool/jobmon/queue.sqlite --timeout 2h -- /usr/local/bin/backup")]
pub struct ExecArgs {
    /// The job's name, as in the configuration's [[jobs]] name.
    #[arg(long, value_name = "NAME")]
    pub job: String,
    /// The environment the job runs in (the message's instance), e.g. I, Q or P.
    #[arg(long, value_name = "ENV")]
    pub env: String,
    /// Queue file, created when missing. The default is the one of `queue`:
    /// msg-queue.sqlite in the current directory (cron's is the home directory), so give
    /// the path the tracker reads.
    #[arg(
        short = 'f',
        long,
        value_name = "QUEUEFILE",
        default_value = "msg-queue.sqlite"
    )]
    pub queue: PathBuf,
    /// Stop the command after this long (`90s`, `2h`, `00:30:00`, plain seconds): SIGTERM,
    /// then SIGKILL after --kill-after; the run is reported as an error, exit status 124.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,
    /// The grace period between the SIGTERM and the SIGKILL of --timeout.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub kill_after: std::time::Duration,
    /// The tracker's configuration (TOML or 2016 JSON), for its start/error/end keywords.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The command and its arguments, after `--`; started directly, not through a shell.
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  jobmon-tracker web -c /etc/jobmon-tracker/jobmon-tracker.toml
  jobmon-tracker web --hash-password >> /etc/jobmon-tracker/web-users   # then edit to user:HASH")]
pub struct WebArgs {
    /// The configuration file (TOML) with a [web] table.
    #[arg(
        short,
        long,
        value_name = "FILE",
        required_unless_present = "hash_password"
    )]
    pub config: Option<PathBuf>,
    /// Read a password from standard input (one line) and print its argon2id hash for
    /// web.users_file (`user:HASH` per line), then exit.
    #[arg(long, conflicts_with = "config")]
    pub hash_password: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  jobmon-tracker check -c /etc/jobmon-tracker/jobmon-tracker.toml
  jobmon-tracker check -c /etc/jobmon-tracker/jobmon-tracker.toml --header   # as a Checkmk local check
  jobmon-tracker check -c /etc/jobmon-tracker/jobmon-tracker.toml --sources  # which tracker reads which source")]
pub struct CheckArgs {
    /// The configuration file (TOML, or the 2016 job_tracker JSON).
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Print the `<<<local:sep(0)>>>` section header first (for the agent's local/ or
    /// plugins/ directory; a local check run by the agent itself needs no header).
    #[arg(long)]
    pub header: bool,
    /// Bound on connecting to PostgreSQL and reading the events.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
    /// Print each source's lease holder (the tracker reading it), lease end, last read,
    /// counts and last error instead of the jobs.
    #[arg(long, conflicts_with = "header")]
    pub sources: bool,
}

/// The `--timeout` of `check` and `nagios`: a duration (`10s`, `1m`, `00:00:30`) or plain
/// seconds (`5`, `2.5`, as Nagios plugins take it); never zero.
pub(crate) fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    let d = match s.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => std::time::Duration::from_secs_f64(secs),
        Ok(_) => return Err(format!("`{s}` is not a positive duration")),
        Err(_) => crate::config::parse_duration(s)?,
    };
    if d.is_zero() {
        return Err("the timeout must be longer than zero".into());
    }
    Ok(d)
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  jobmon-tracker run -c /etc/jobmon-tracker/jobmon-tracker.toml
  jobmon-tracker run -c job_tracker.cfg --once      # one pass over all sources, then exit")]
pub struct RunArgs {
    /// The configuration file (TOML, or the 2016 job_tracker JSON).
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Read every source until it has nothing new, once, then exit (for cron or a test).
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  jobmon-tracker queue -f /var/spool/jobmon/queue.sqlite add --instance P --job LOAD_DWH --event STARTED
  jobmon-tracker queue -f queue.sqlite add -j '{\"instance\": \"P\", \"job\": \"LOAD_DWH\", \"event\": \"SUCCESS\", \"message\": \"42 rows\"}'
  jobmon-tracker queue -f queue.sqlite list -i 100 -t LOCALTIME
  jobmon-tracker queue -f queue.sqlite read --after 41 --limit 500
  jobmon-tracker queue -f queue.sqlite ack --through 97")]
pub struct QueueArgs {
    /// Queue file. As in the 2016 tool the default is msg-queue.sqlite in the current
    /// directory. `add` creates the file (and table) when missing; the other commands
    /// fail on a missing file instead of creating an empty one.
    #[arg(
        short,
        long,
        global = true,
        value_name = "QUEUEFILE",
        default_value = "msg-queue.sqlite"
    )]
    pub file: PathBuf,
    /// Report what is done on stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: QueueCommand,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Append one message; prints its id.
    ///
    /// Give the fields as options, or as one JSON object with -j (as the 2016 tool did).
    /// SQLite stamps the message with the current time (UTC Julian day number), unless the
    /// JSON object has a "timestamp" (RFC 3339, e.g. "2026-12-02T01:30:00.250Z", as `list`
    /// prints it and `exec` writes the messages it could not queue): then with that time.
    Add(AddArgs),
    /// Print the first messages as a JSON array, in the 2016 format.
    ///
    /// Oldest ids first: [{"_id": 1, "timestamp": "...", "instance": "P", "job": "...",
    /// "event": "...", "message": "..."}]. Bytes that are not UTF-8 are shown as U+FFFD;
    /// use `read` for exact values.
    List(ListArgs),
    /// Print the number of messages in the queue.
    Length,
    /// Remove the oldest messages and print them as a JSON array like `list`.
    ///
    /// Oldest by timestamp. Prints nothing when the queue is empty. Rows are deleted only
    /// once they were printed, so a closed pipe loses nothing.
    Remove(ListArgs),
    /// Print messages with an id above --after as JSON lines, exactly as stored.
    ///
    /// One object per line: {"id":7,"timestamp":2457571.5,"instance":"P","job":"LOAD",
    /// "event":"STARTED","message":"..."}; the timestamp is the stored Julian day number.
    /// NULL is null; text that is not UTF-8 and blobs appear as lossy text plus a "raw"
    /// member with their bytes in base64, e.g. "raw":{"message":{"type":"text","base64":"..."}}.
    /// Nothing is deleted; see `ack`.
    Read(ReadArgs),
    /// Delete all messages with an id up to and including --through; prints how many.
    Ack(AckArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The message as a JSON object with string fields "instance", "job", "event", an
    /// optional "message" (default "") and an optional "timestamp" (RFC 3339; default: now);
    /// `-` reads the object from standard input.
    #[arg(short, long, value_name = "JSON|-", conflicts_with_all = ["instance", "job", "event", "message"])]
    pub json: Option<String>,
    /// The environment the job runs in, e.g. I, Q or P.
    #[arg(long, value_name = "INSTANCE")]
    pub instance: Option<String>,
    /// The job's name.
    #[arg(long, value_name = "JOB")]
    pub job: Option<String>,
    /// The event keyword, e.g. STARTED, ERROR or SUCCESS (see the tracker configuration).
    #[arg(long, value_name = "EVENT_TYPE")]
    pub event: Option<String>,
    /// Free text stored with the event (default "").
    #[arg(long, value_name = "MESSAGE")]
    pub message: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Handle at most N messages (10 by default, as in the 2016 tool).
    #[arg(short = 'i', long = "max-items", value_name = "N", default_value_t = crate::queue::LEGACY_DEFAULT_MAX_ITEMS)]
    pub max_items: u64,
    /// Handle all messages (overrides -i).
    #[arg(long)]
    pub all: bool,
    /// How to print timestamps: UTC = "2016-07-01T14:57:46.598Z", EPOCHE = Unix seconds
    /// as a string ("1467385066"), LOCALTIME = "2016-07-01 16:57:46" in the TZ of this process.
    #[arg(
        short = 't',
        long = "timeformat",
        value_enum,
        ignore_case = true,
        default_value = "UTC"
    )]
    pub timeformat: TimeFormatArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TimeFormatArg {
    #[value(name = "UTC")]
    Utc,
    #[value(name = "EPOCHE")]
    Epoche,
    #[value(name = "LOCALTIME")]
    Localtime,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Print messages with an id greater than this (0: from the start).
    #[arg(long, value_name = "ID", default_value_t = 0)]
    pub after: i64,
    /// Print at most N messages.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub limit: u64,
    /// First print {"min_id":N} (or null for an empty queue), read in the same
    /// transaction as the rows; the tracker uses it to notice a queue whose ids restarted.
    #[arg(long)]
    pub with_min: bool,
}

#[derive(Debug, Args)]
pub struct AckArgs {
    /// Delete messages with an id up to and including this one.
    #[arg(long, value_name = "ID")]
    pub through: i64,
    /// Delete only if the row with id --through still has this content fingerprint (16 hex
    /// digits, as the tracker computes it); otherwise delete nothing and print "changed".
    #[arg(long, value_name = "HEX", value_parser = parse_fingerprint)]
    pub fingerprint: Option<u64>,
}

fn parse_fingerprint(s: &str) -> Result<u64, String> {
    u64::from_str_radix(s, 16).map_err(|e| format!("`{s}` is not a hexadecimal fingerprint: {e}"))
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file and print what was understood.
    ///
    /// Reads TOML or the 2016 job_tracker JSON; the summary includes the defaults. Exit 0
    /// if valid, 1 if not; each error names the file, the key (e.g. jobs[3].daily.start)
    /// and what was expected. Warnings (e.g. host_key_policy = "off", missing key files)
    /// go to stderr and do not fail the check.
    Check {
        /// The configuration file (.toml; .json/.cfg or text starting with `{` is read as
        /// the 2016 JSON format).
        file: PathBuf,
    },
    /// Convert a 2016 job_tracker JSON configuration to TOML, printed on stdout.
    ///
    /// Comments at the top list what changed in meaning (host key checking, deletion
    /// after commit, ...). Both spellings of the old keys are accepted.
    Import {
        /// The legacy JSON file (job_tracker.cfg).
        file: PathBuf,
    },
    /// Suggest schedules for the jobs nobody configured, from their history in job_log.
    ///
    /// Reads the runs started since --since and prints, for each tracked job (messages
    /// from a configured source) without a [[jobs]] entry, a TOML stanza with a schedule
    /// read from its start times (a cyclic interval, a daily start time in
    /// global.time_zone, or a cron expression for jobs that run on some weekdays), a
    /// start_max_delay and a timeout from the spread of its starts and durations; and for
    /// each job logged through add_job without a job_check_config row, an INSERT with
    /// warn and error thresholds, so that check_job_status() reports it MISSING when a run
    /// does not come. Comments above each give the evidence (runs seen, the spread, the
    /// exceptions); a job whose starts follow no pattern gets the reason and a
    /// commented-out stanza. Nothing is changed: the configuration file is only read and
    /// the database is read in a read-only transaction (SELECT rights on job_log,
    /// tracker_message and job_check_config suffice).
    ///
    /// Output: the TOML part (valid TOML), then the SQL part (valid SQL); --only picks one,
    /// to append to the configuration or pipe into psql. Exit status: 0, also when there
    /// is nothing to suggest; 1 if the configuration is invalid or the database cannot be
    /// read; 2 for a wrong command line.
    #[command(after_help = "Examples:
  jobmon-tracker config suggest -c /etc/jobmon-tracker/jobmon-tracker.toml
  jobmon-tracker config suggest -c /etc/jobmon-tracker/jobmon-tracker.toml --since 90d --only toml > suggested.toml
  jobmon-tracker config suggest -c /etc/jobmon-tracker/jobmon-tracker.toml --only sql | psql -d jobs")]
    Suggest(SuggestArgs),
}

#[derive(Debug, Args)]
pub struct SuggestArgs {
    /// The configuration file (TOML, or the 2016 job_tracker JSON): its database, sources,
    /// jobs and time zone.
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// How much history to read: runs started this long ago or later (`30d`, `12w`,
    /// `720h`). Weekday patterns need two weeks; DST changes in it are read as such.
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_since)]
    pub since: std::time::Duration,
    /// Print only the TOML stanzas or only the SQL statements.
    #[arg(long, value_enum, value_name = "PART")]
    pub only: Option<SuggestPart>,
    /// Bound on connecting to PostgreSQL and reading the history.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuggestPart {
    /// The [[jobs]] stanzas of tracked jobs.
    Toml,
    /// The job_check_config statements of in-database jobs.
    Sql,
}

/// `--since`: a duration of at least an hour and at most ten years.
fn parse_since(s: &str) -> Result<std::time::Duration, String> {
    let d = crate::config::parse_duration(s)?;
    if d < std::time::Duration::from_secs(3600) {
        return Err(format!(
            "`{s}` is too short: give at least an hour of history, e.g. 30d"
        ));
    }
    if d > std::time::Duration::from_secs(10 * 366 * 86_400) {
        return Err(format!("`{s}` is more than ten years"));
    }
    Ok(d)
}

/// Why a command failed, and so its exit code.
#[derive(Debug)]
pub enum CliError {
    /// Exit 2: the command line (or -j JSON) was wrong.
    Usage(String),
    /// Exit 1: the command could not do its work.
    Runtime(String),
    /// Exit 1 without a message: stdout was closed by the reader.
    BrokenPipe,
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(2),
            CliError::Runtime(_) | CliError::BrokenPipe => ExitCode::from(1),
        }
    }
}

impl From<crate::queue::QueueError> for CliError {
    fn from(e: crate::queue::QueueError) -> Self {
        CliError::Runtime(e.to_string())
    }
}

/// Writes to stdout; a closed pipe ends the command quietly instead of a panic.
pub(crate) fn print(text: &str) -> Result<(), CliError> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe => CliError::BrokenPipe,
            _ => CliError::Runtime(format!("cannot write to stdout: {e}")),
        })
}

pub(crate) fn note(text: &str) {
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = writeln!(io::stderr(), "{text}");
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Queue(args) => queue_cmd::run(args),
        Command::Config(cmd) => config_cmd::run(cmd),
        Command::Run(args) => crate::daemon::run(crate::daemon::RunOptions {
            config_path: args.config,
            once: args.once,
        })
        .map_err(CliError::Runtime),
        Command::Check(args) => check_cmd::run(args),
        // Its exit status is the check's result (0-3), which CliError cannot express; the
        // report is printed and flushed and the runtime shut down by now.
        Command::Nagios(args) => std::process::exit(nagios::run(&args).code().into()),
        Command::Web(args) => web(args),
        // Its exit status is the command's; nothing of its own is left to flush.
        Command::Exec(args) => std::process::exit(exec_cmd::run(args).into()),
    }
}

fn web(args: WebArgs) -> Result<(), CliError> {
    if args.hash_password {
        let mut line = String::new();
        io::stdin()
            .read_line(&mut line)
            .map_err(|e| CliError::Runtime(format!("cannot read the password: {e}")))?;
        let password = line.trim_end_matches(['\r', '\n']);
        if password.is_empty() {
            return Err(CliError::Usage(
                "the password on standard input is empty".into(),
            ));
        }
        let hash = crate::web::hash_password(password).map_err(CliError::Runtime)?;
        return print(&format!("{hash}\n"));
    }
    match args.config {
        Some(config) => crate::web::run(&config).map_err(CliError::Runtime),
        None => Err(CliError::Usage("-c FILE is required".into())),
    }
}

/// The program: parses arguments (clap exits 2 on usage errors, 0 for --help/--version),
/// runs the command and maps errors to exit codes.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let nagios = nagios::invoked(args.iter().cloned());
    let (args, notes) = if nagios {
        nagios_legacy::legacy_args(args)
    } else {
        (args, Vec::new())
    };
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // A monitoring plugin reports its own wrong command line as UNKNOWN (3), not 2, and
        // help and version with the states the plugin guidelines' programs use.
        Err(e) if nagios => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp => Some(nagios::HELP_STATE),
                clap::error::ErrorKind::DisplayVersion => Some(nagios::VERSION_STATE),
                _ => None,
            };
            let exit = match code {
                Some(state) => {
                    let _ = e.print();
                    ExitCode::from(state.code())
                }
                None if e.use_stderr() => nagios::usage_error(&e),
                None => e.exit(),
            };
            nagios_legacy::print_notes(&notes);
            return exit;
        }
        Err(e) => e.exit(),
    };
    nagios_legacy::print_notes(&notes);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match &e {
                CliError::Usage(m) | CliError::Runtime(m) => note(&format!("jobmon-tracker: {m}")),
                CliError::BrokenPipe => {}
            }
            e.exit_code()
        }
    }
}
