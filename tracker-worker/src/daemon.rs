//! `jobmon-tracker run`: the daemon. Every poll interval it polls all sources concurrently
//! (at most [`MAX_PARALLEL_SOURCES`] at once, each on its own database connection), each
//! under a lease in PostgreSQL so several trackers can share the sources: every connection
//! announces this tracker as live, and the live trackers balance the leases between them
//! (sql/tracker/lease.sql). After each poll it evaluates the jobs and writes the outputs,
//! with its own figures (what it stored, rejected, which sources fail) in the Prometheus
//! file.
//!
//! Signals: SIGTERM/SIGINT finish the batches being stored, give up the leases and exit 0;
//! SIGHUP reloads the configuration (an invalid one is reported and the old one kept) and
//! reopens the log file (for logrotate).

use crate::config::{self, Config, LogLevel};
use crate::ingest::cycle::{Polled, Settings, SourceWorker};
use crate::ingest::runs::Keywords;
use crate::monitor::{self, Monitor};
use crate::notify::Notifier;
use crate::output::{EcHeader, Outbox, Report};
use crate::output::{SourceFigures, TrackerFigures};
use crate::retention::Purger;
use crate::store::connect::{pg_config, PgConfig, ProcessEnv};
use crate::store::Store;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing_subscriber::{reload, EnvFilter};
use tracker_core::identity::job_key;
use tracker_core::rules::{Reason, State};

/// Sources read at the same time (and database connections used for them).
pub const MAX_PARALLEL_SOURCES: usize = 8;

/// How `run` was asked to behave.
pub struct RunOptions {
    pub config_path: PathBuf,
    /// Poll every source once (until it has nothing new), then exit.
    pub once: bool,
}

/// Runs the daemon; the exit code is 0 after SIGTERM, 1 when it cannot start.
pub fn run(opts: RunOptions) -> Result<(), String> {
    let loaded = config::load(&opts.config_path).map_err(|e| e.to_string())?;
    let config = loaded.config;
    for w in config::warnings(&config) {
        eprintln!("jobmon-tracker: warning: {w}");
    }
    let logs = Logs::init(&config.global.log_level, config.global.log_file.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    // With a [web] table the dashboard runs beside the daemon (not for --once); it is
    // prepared first so that a busy port or a bad users file stops the start.
    let dashboard = match (&config.web, opts.once) {
        (Some(_), false) => Some(crate::web::prepare(&config, &opts.config_path)?),
        _ => None,
    };
    let mut daemon = Daemon::new(opts, config, logs);
    daemon.open_outbox()?;
    if let Some(d) = dashboard {
        eprintln!("jobmon-tracker run: dashboard at {}", d.url());
        runtime.spawn(d.serve(std::future::pending()));
    }
    runtime.block_on(daemon.main())
}

/// The tracker's lease owner id: host, process and a random part (a restarted tracker is a
/// new owner, so leases of a dead process are never mistaken for its own).
fn owner_id() -> String {
    let host = crate::host::kernel_hostname().unwrap_or_else(|| "unknown-host".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{host}:{}:{nanos:08x}", std::process::id())
}

/// The host part of a lease owner id (what [`owner_id`] made): trackers on this host hold
/// the sources whose owner's host is this host's name.
pub fn owner_host(owner: &str) -> &str {
    owner.rsplitn(3, ':').last().unwrap_or(owner)
}

/// How long a lease lasts: two polls that each run into the source timeout. A tracker that
/// died is replaced within that time plus one poll interval (80 s + 10 s with the defaults).
pub fn lease_ttl(config: &Config) -> Duration {
    2 * (config.global.poll_interval + config.global.source_timeout)
}

fn settings(config: &Config, owner: &str, stop: &Arc<AtomicBool>) -> Arc<Settings> {
    let g = &config.global;
    Arc::new(Settings {
        owner: owner.to_owned(),
        keywords: Keywords::of(g),
        batch_size: u64::from(g.read_batch_size.max(1)),
        lease_ttl: lease_ttl(config),
        sources: config.sources.len(),
        stop: Arc::clone(stop),
    })
}

struct Daemon {
    opts: RunOptions,
    config: Config,
    logs: Logs,
    owner: String,
    stop: Arc<AtomicBool>,
    workers: HashMap<String, SourceWorker>,
    /// Idle database connections.
    pool: Vec<Store>,
    monitor: Monitor,
    /// The name registered in PostgreSQL (`tracker_instance`).
    tracker: String,
    /// Each job's last (state, reason), to log changes.
    last_states: HashMap<String, (State, Reason)>,
    /// The Event Console outbox, open while `output.event_console` is configured.
    outbox: Option<Outbox>,
    /// This process's own figures, for the Prometheus output.
    figures: Figures,
    /// systemd's notifications: READY, STATUS, the watchdog.
    notifier: Notifier,
    /// Whether READY=1 was sent.
    ready: bool,
    /// When the last WATCHDOG=1 went out.
    last_ping: Instant,
    /// The retention passes, each on a connection of its own.
    purger: Purger,
}

/// What ended the wait between two polls.
enum Idle {
    Poll,
    Stop,
}

/// What the tracker counts about itself: per source (by name) and of the whole poll.
#[derive(Default)]
struct Figures {
    sources: HashMap<String, SourceFigures>,
    last_poll: Option<chrono::DateTime<chrono::Utc>>,
    last_evaluation: Option<chrono::DateTime<chrono::Utc>>,
    poll_duration: Option<Duration>,
}

impl Figures {
    /// Takes in one source's poll.
    fn polled(&mut self, worker: &SourceWorker, outcome: &Outcome) {
        let f = self
            .sources
            .entry(worker.name().to_owned())
            .or_insert_with(|| SourceFigures {
                name: worker.name().to_owned(),
                ..SourceFigures::default()
            });
        f.stored += outcome.stored;
        f.rejected += outcome.rejected;
        f.errors += u64::from(!outcome.ok);
        f.failing = !outcome.ok;
        f.held = worker.held();
        f.lag = worker.lag();
    }

    /// The figures of the configured sources, in configuration order.
    fn of(&self, config: &Config) -> TrackerFigures {
        TrackerFigures {
            last_poll: self.last_poll,
            last_evaluation: self.last_evaluation,
            poll_duration: self.poll_duration,
            sources: config
                .sources
                .iter()
                .map(|s| {
                    self.sources.get(&s.name).cloned().unwrap_or(SourceFigures {
                        name: s.name.clone(),
                        ..SourceFigures::default()
                    })
                })
                .collect(),
        }
    }
}

/// How one source's poll went, for the figures.
struct Outcome {
    ok: bool,
    stored: u64,
    rejected: u64,
}

/// A database connection of this tracker, announced as one of `owner`'s (so the other
/// trackers count it as live when they share the sources).
async fn connect(pg: &PgConfig, owner: &str) -> Result<Store, crate::store::StoreError> {
    let store = Store::connect(pg).await?;
    store.announce(owner).await?;
    Ok(store)
}

impl Daemon {
    fn new(opts: RunOptions, config: Config, logs: Logs) -> Self {
        let workers = config
            .sources
            .iter()
            .map(|s| (s.name.clone(), SourceWorker::new(s.clone(), &config.global)))
            .collect();
        Daemon {
            opts,
            monitor: Monitor::new(&config),
            config,
            logs,
            owner: owner_id(),
            stop: Arc::new(AtomicBool::new(false)),
            workers,
            pool: Vec::new(),
            tracker: monitor::tracker_name(),
            last_states: HashMap::new(),
            outbox: None,
            figures: Figures::default(),
            notifier: Notifier::from_env(),
            ready: false,
            last_ping: Instant::now(),
            purger: Purger::default(),
        }
    }

    async fn main(mut self) -> Result<(), String> {
        let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
        let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
        tracing::info!(
            owner = %self.owner,
            sources = self.workers.len(),
            jobs = self.config.jobs.len(),
            config = %self.opts.config_path.display(),
            "jobmon-tracker started"
        );
        loop {
            let started = Instant::now();
            // Signals that arrive during a cycle set `stop`, so batches end after their commit.
            let stop = Arc::clone(&self.stop);
            let mut reload = false;
            let failures;
            {
                let cycle = self.cycle();
                tokio::pin!(cycle);
                loop {
                    tokio::select! {
                        n = &mut cycle => { failures = n; break }
                        _ = term.recv() => stop.store(true, Ordering::SeqCst),
                        _ = int.recv() => stop.store(true, Ordering::SeqCst),
                        _ = hup.recv() => reload = true,
                    }
                }
            }
            self.evaluate().await;
            self.passed(failures);
            self.start_purge();
            if self.opts.once && failures > 0 {
                self.purger.finish().await;
                self.release_all().await;
                return Err(format!(
                    "{failures} source(s) could not be read completely; see the log"
                ));
            }
            if self.stop.load(Ordering::SeqCst) || self.opts.once {
                break;
            }
            if reload {
                self.reload().await;
                continue;
            }
            let next = started + self.config.global.poll_interval;
            if let Idle::Stop = self.idle(next, &mut term, &mut int, &mut hup).await {
                break;
            }
        }
        self.notifier.stopping();
        // `--once` lets its purge finish; a stopping daemon ends it after its batch.
        if !self.opts.once {
            self.stop.store(true, Ordering::SeqCst);
        }
        self.purger.finish().await;
        self.release_all().await;
        tracing::info!("jobmon-tracker stopped");
        Ok(())
    }

    /// Waits until `next`, keeping systemd's watchdog fed: the loop is alive while it
    /// waits. A SIGHUP reloads and polls at once, as a new configuration deserves.
    async fn idle(
        &mut self,
        next: Instant,
        term: &mut Signal,
        int: &mut Signal,
        hup: &mut Signal,
    ) -> Idle {
        loop {
            let ping = self
                .notifier
                .watchdog_interval()
                .map(|i| self.last_ping + i);
            let ping_wait = async {
                match ping {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(next) => return Idle::Poll,
                () = ping_wait => self.ping(),
                _ = term.recv() => return Idle::Stop,
                _ = int.recv() => return Idle::Stop,
                _ = hup.recv() => {
                    self.reload().await;
                    return Idle::Poll;
                }
            }
        }
    }

    fn ping(&mut self) {
        self.notifier.watchdog();
        self.last_ping = Instant::now();
    }

    /// After a poll and its evaluation: the watchdog is fed (only here and while waiting
    /// for the next poll, so a poll that hangs is restarted by systemd), READY=1 once the
    /// database was reached, and a STATUS line either way.
    fn passed(&mut self, failures: usize) {
        self.ping();
        let at = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC");
        let sources = self.workers.len();
        let held = self.workers.values().filter(|w| w.held()).count();
        let reached = !self.pool.is_empty() || (sources == 0 && self.monitor.jobs().is_empty());
        let status = if reached {
            let failed = if failures > 0 {
                format!(", {failures} not read")
            } else {
                String::new()
            };
            format!("holding {held} of {sources} sources; last poll {at}{failed}")
        } else {
            format!("database not reached at {at}; retrying every poll interval")
        };
        if reached && !self.ready {
            self.ready = true;
            self.notifier.ready(&status);
        } else {
            self.notifier.status(&status);
        }
    }

    /// Starts the retention pass when it is due (see [`Purger`]); not once stopping.
    fn start_purge(&mut self) {
        if !self.stop.load(Ordering::SeqCst) {
            self.purger.start(&self.config, &self.stop);
        }
    }

    /// One poll of every source, at most [`MAX_PARALLEL_SOURCES`] at once, timed for the
    /// figures; returns how many failed.
    async fn cycle(&mut self) -> usize {
        let started = std::time::Instant::now();
        let failures = self.poll_sources().await;
        self.figures.poll_duration = Some(started.elapsed());
        if failures == 0 {
            self.figures.last_poll = Some(chrono::Utc::now());
        }
        failures
    }

    async fn poll_sources(&mut self) -> usize {
        let settings = settings(&self.config, &self.owner, &self.stop);
        let pg = match pg_config(&self.config.database, &ProcessEnv) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::error!(error = %e, "cannot connect to the database");
                return self.workers.len().max(1);
            }
        };
        let mut failures = 0;
        let mut pending: Vec<SourceWorker> = self.workers.drain().map(|(_, w)| w).collect();
        pending.sort_by(|a, b| a.name().cmp(b.name()));
        let mut tasks = JoinSet::new();
        let mut finished = Vec::new();
        loop {
            while tasks.len() < MAX_PARALLEL_SOURCES {
                let Some(mut worker) = pending.pop() else {
                    break;
                };
                let store = self.pool.pop();
                let settings = Arc::clone(&settings);
                let pg = Arc::clone(&pg);
                tasks.spawn(async move {
                    let failed = Outcome {
                        ok: false,
                        stored: 0,
                        rejected: 0,
                    };
                    let mut store = match store {
                        Some(s) if !s.is_closed() => s,
                        _ => match connect(&pg, &settings.owner).await {
                            Ok(s) => s,
                            Err(e) => {
                                tracing::error!(source = worker.name(), error = %e, "cannot connect to the database");
                                return (worker, None, failed);
                            }
                        },
                    };
                    let result = worker.poll(&mut store, &settings).await;
                    report(&worker, &store, &result).await;
                    let keep = match &result {
                        Err(crate::ingest::cycle::CycleError::Store(e)) => !e.connection_lost(),
                        _ => true,
                    };
                    let outcome = match &result {
                        Ok(p) => Outcome {
                            ok: true,
                            stored: p.stored,
                            rejected: p.rejected,
                        },
                        Err(_) => failed,
                    };
                    (worker, keep.then_some(store), outcome)
                });
            }
            match tasks.join_next().await {
                Some(Ok((worker, store, outcome))) => {
                    failures += usize::from(!outcome.ok);
                    self.figures.polled(&worker, &outcome);
                    finished.push(worker);
                    self.pool.extend(store);
                }
                Some(Err(e)) => {
                    failures += 1;
                    tracing::error!(error = %e, "a source task failed");
                }
                None => break,
            }
        }
        self.workers = finished
            .into_iter()
            .map(|w| (w.name().to_owned(), w))
            .collect();
        // A source whose task panicked starts over with a fresh worker.
        for s in &self.config.sources {
            if !self.workers.contains_key(&s.name) {
                let worker = SourceWorker::new(s.clone(), &self.config.global);
                self.workers.insert(s.name.clone(), worker);
            }
        }
        failures
    }

    /// SIGHUP: the new configuration if it is valid; sources whose settings did not change
    /// keep their connections and what they know.
    async fn reload(&mut self) {
        self.logs.reopen();
        let loaded = match config::load(&self.opts.config_path) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "configuration not reloaded; keeping the running one");
                return;
            }
        };
        let new = loaded.config;
        let mut workers = std::mem::take(&mut self.workers);
        let mut removed = Vec::new();
        let mut kept = HashMap::new();
        for s in &new.sources {
            match workers.remove(&s.name) {
                Some(w)
                    if w.config == *s
                        && self.config.global.source_timeout == new.global.source_timeout =>
                {
                    kept.insert(s.name.clone(), w);
                }
                _ => {
                    kept.insert(s.name.clone(), SourceWorker::new(s.clone(), &new.global));
                }
            }
        }
        removed.extend(workers.into_keys());
        if new.database != self.config.database {
            self.pool.clear();
        }
        if !removed.is_empty() {
            if let Some(store) = self.pool.first() {
                if let Err(e) = store.release(&self.owner, Some(&removed)).await {
                    tracing::warn!(error = %e, "could not give up the leases of removed sources");
                }
            }
        }
        self.logs.set_level(new.global.log_level);
        tracing::info!(
            sources = kept.len(),
            jobs = new.jobs.len(),
            removed = ?removed,
            "configuration reloaded"
        );
        self.workers = kept;
        self.monitor = Monitor::new(&new);
        self.config = new;
        if let Err(e) = self.open_outbox() {
            tracing::error!(error = %e, "Event Console outbox not opened; no events are sent until it can be");
            self.outbox = None;
        }
    }

    /// After a poll: evaluates every job and writes every output. With PostgreSQL
    /// unreachable every job is UNKNOWN (the outputs say so) and no state is stored.
    async fn evaluate(&mut self) {
        let now = chrono::Utc::now();
        let evaluated = if self.monitor.jobs().is_empty() {
            monitor::Evaluated::default()
        } else {
            self.evaluate_from_store(now).await
        };
        let reports = self.monitor.reports(&evaluated.evals);
        log_changes(&mut self.last_states, &reports);
        let figures = self.figures.of(&self.config);
        let placed;
        let checkmk = if self.config.output.piggyback {
            let workers = &self.workers;
            placed = self.monitor.placed(&evaluated, |s| {
                workers.get(s).is_some_and(SourceWorker::held)
            });
            monitor::Placement::Piggyback(&placed.0, &placed.1)
        } else {
            monitor::Placement::Own(&reports)
        };
        let errors = tokio::task::block_in_place(|| {
            monitor::write_files(&self.config.output, &reports, checkmk, &figures)
        });
        for e in errors {
            tracing::error!(error = %e, "output not written");
        }
        if let (Some(outbox), Some(ec)) = (&mut self.outbox, &self.config.output.event_console) {
            let timeout = self.config.global.source_timeout;
            tokio::task::block_in_place(|| send_events(outbox, ec, &reports, now, timeout));
        }
    }

    /// Reads the events, evaluates the jobs and stores their states (and the heartbeat).
    async fn evaluate_from_store(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> monitor::Evaluated {
        let store = match self.pool.pop() {
            Some(s) if !s.is_closed() => Ok(s),
            _ => match pg_config(&self.config.database, &ProcessEnv) {
                Ok(c) => connect(&c, &self.owner).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
        };
        let store = match store {
            Ok(store) => store,
            Err(e) => {
                tracing::error!(error = %e, "cannot connect to the database; every job is UNKNOWN");
                return self.monitor.unavailable(&e, now);
            }
        };
        let evaluated = match self.monitor.evaluate(&store, now).await {
            Ok(evaluated) => {
                self.figures.last_evaluation = Some(now);
                match self
                    .monitor
                    .store_states(&store, &self.tracker, &evaluated.evals)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(jobs = n, "marked TIMEOUT/DELAYED runs in job_log"),
                    Err(e) => tracing::warn!(error = %e, "could not store the job states"),
                }
                evaluated
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the events; every job is UNKNOWN");
                self.monitor.unavailable(&e.to_string(), now)
            }
        };
        if !store.is_closed() {
            self.pool.push(store);
        }
        evaluated
    }

    /// Opens the Event Console outbox if one is configured (and is not open already).
    fn open_outbox(&mut self) -> Result<(), String> {
        let Some(ec) = &self.config.output.event_console else {
            self.outbox = None;
            return Ok(());
        };
        if self.outbox.as_ref().is_some_and(|o| o.path() == ec.outbox) {
            return Ok(());
        }
        self.outbox = Some(Outbox::open(&ec.outbox).map_err(|e| e.to_string())?);
        Ok(())
    }

    async fn release_all(&mut self) {
        let store = match self.pool.pop() {
            Some(s) if !s.is_closed() => Some(s),
            _ => match pg_config(&self.config.database, &ProcessEnv) {
                Ok(c) => connect(&c, &self.owner).await.ok(),
                Err(_) => None,
            },
        };
        if let Some(store) = store {
            if let Err(e) = store.release(&self.owner, None).await {
                tracing::warn!(error = %e, "could not give up the leases; they expire by themselves");
            }
        }
    }
}

/// Logs each job whose state changed since the last evaluation (`last` holds those).
fn log_changes(last: &mut HashMap<String, (State, Reason)>, reports: &[Report]) {
    for (job, eval) in reports {
        let key = job_key(&job.name, &job.env);
        let now_state = (eval.state, eval.reason);
        match last.insert(key, now_state) {
            Some(before) if before == now_state => {}
            Some(_) => {
                tracing::info!(job = %job.name, env = %job.env, state = eval.state.as_str(), text = %eval.text, "job state changed")
            }
            None => {
                tracing::debug!(job = %job.name, env = %job.env, state = eval.state.as_str(), text = %eval.text, "job state")
            }
        }
    }
}

/// Queues an Event Console message for every job whose state changed, then sends what is
/// queued; what cannot be sent now stays in the outbox for the next evaluation.
fn send_events(
    outbox: &mut Outbox,
    ec: &config::EventConsole,
    reports: &[Report],
    now: chrono::DateTime<chrono::Utc>,
    timeout: Duration,
) {
    match outbox.record(reports, &ec.format(), now) {
        Ok(0) => {}
        Ok(n) => tracing::debug!(events = n, "state changes queued for the Event Console"),
        Err(e) => tracing::error!(error = %e, "state changes not queued for the Event Console"),
    }
    match outbox.deliver(&ec.target, timeout) {
        Ok(0) => {}
        Ok(n) => tracing::info!(events = n, target = %ec.target, "sent to the Event Console"),
        Err(e) => {
            let pending = outbox.pending().unwrap_or_default();
            tracing::warn!(error = %e, pending, "Event Console not reached; retrying at the next evaluation");
        }
    }
}

/// Logs a poll's outcome and records a failure with the source.
async fn report(
    worker: &SourceWorker,
    store: &Store,
    result: &Result<Polled, crate::ingest::cycle::CycleError>,
) {
    let name = worker.name();
    match result {
        Ok(p) if p.stored > 0 || p.rejected > 0 => {
            tracing::info!(
                source = name,
                stored = p.stored,
                rejected = p.rejected,
                batches = p.batches,
                "messages stored"
            );
        }
        Ok(p) if !p.leased => {
            tracing::debug!(source = name, "another tracker holds this source");
        }
        Ok(_) => tracing::debug!(source = name, "nothing new"),
        Err(e) => {
            tracing::warn!(source = name, error = %e, "source not read");
            if !store.is_closed() {
                if let Err(e2) = store.read_failed(name, &e.to_string()).await {
                    tracing::debug!(source = name, error = %e2, "could not record the failure");
                }
            }
        }
    }
}

/// The log output: stderr, or a file reopened on SIGHUP; the level can change on reload.
struct Logs {
    file: Option<(PathBuf, Arc<Mutex<File>>)>,
    level: reload::Handle<EnvFilter, tracing_subscriber::Registry>,
}

/// Environment variable that overrides the configured log filter (tracing's syntax, e.g.
/// `debug` or `tracker_worker=trace`).
pub const LOG_ENV: &str = "JOBMON_TRACKER_LOG";

fn filter(level: LogLevel) -> EnvFilter {
    std::env::var(LOG_ENV)
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(level.as_str()))
}

#[derive(Clone)]
struct SharedFile(Arc<Mutex<File>>);

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

fn open_log(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("log file {}: {e}", path.display()))
}

impl Logs {
    fn init(level: &LogLevel, file: Option<&Path>) -> Result<Logs, String> {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let (filter_layer, handle) = reload::Layer::new(filter(*level));
        let registry = tracing_subscriber::registry().with(filter_layer);
        let file = match file {
            Some(path) => {
                let shared = Arc::new(Mutex::new(open_log(path)?));
                let writer = SharedFile(Arc::clone(&shared));
                registry
                    .with(
                        tracing_subscriber::fmt::layer()
                            .with_ansi(false)
                            .with_writer(move || writer.clone()),
                    )
                    .try_init()
                    .map_err(|e| e.to_string())?;
                Some((path.to_owned(), shared))
            }
            None => {
                registry
                    .with(
                        tracing_subscriber::fmt::layer()
                            .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
                            .with_writer(io::stderr),
                    )
                    .try_init()
                    .map_err(|e| e.to_string())?;
                None
            }
        };
        Ok(Logs {
            file,
            level: handle,
        })
    }

    fn reopen(&self) {
        if let Some((path, shared)) = &self.file {
            match open_log(path) {
                Ok(f) => *shared.lock().unwrap_or_else(|p| p.into_inner()) = f,
                Err(e) => tracing::error!(error = %e, "cannot reopen the log file"),
            }
        }
    }

    fn set_level(&self, level: LogLevel) {
        if let Err(e) = self.level.reload(filter(level)) {
            tracing::warn!(error = %e, "log level not changed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_an_owner_id_is_what_comes_before_pid_and_random_part() {
        let id = owner_id();
        assert_eq!(
            owner_host(&id),
            crate::host::kernel_hostname().unwrap_or_else(|| "unknown-host".into())
        );
        assert_eq!(owner_host("tracker1:4242:0badcafe"), "tracker1");
        assert_eq!(owner_host("tracker1"), "tracker1");
    }
}
