//! The dashboard, `jobmon-tracker web`: server-rendered pages (overview, timeline, a job, a
//! run) and the same data as JSON under `/api/`, `/metrics` (the Prometheus text of the
//! tracked jobs) and `/healthz`, over job_log, job_detail, check_job_status() and the
//! tracker's states. It only reads ([`crate::store::dashboard`]); what it may expose is
//! decided by the `[web]` table (loopback unless TLS and authentication are configured).

mod api;
mod auth;
mod chart;
mod format;
mod pages;
mod routes;
mod server;

pub use auth::{hash_password, parse_users, Auth, Refusal};
pub use server::CSP;

use crate::config::{self, Config, QuietWindow, Schedule, Web, WebAuth};
use crate::store::connect::{pg_config, PgConfig, ProcessEnv};
use crate::store::dashboard::Dashboard;
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tracker_core::identity::job_log_name;
use tracker_core::schedule::Zone;

/// A job of the configuration, as its pages show it (keyed by its job_log name).
#[derive(Debug, Clone)]
pub struct TrackedJob {
    pub schedule: Schedule,
    pub schedule_words: String,
    pub timeout: Option<Duration>,
    pub quiet: Option<QuietWindow>,
}

/// What the handlers share.
pub struct App {
    config: Config,
    web: Web,
    pg: PgConfig,
    zone: Zone,
    auth: Arc<Auth>,
    tracked: HashMap<String, TrackedJob>,
    dashboard: Mutex<Option<Arc<Dashboard>>>,
    store: Mutex<Option<Store>>,
}

impl App {
    /// The dashboard's connection, opened again if it was lost.
    async fn dashboard(&self) -> Result<Arc<Dashboard>, StoreError> {
        let mut slot = self.dashboard.lock().await;
        if let Some(d) = slot.as_ref().filter(|d| !d.is_closed()) {
            return Ok(d.clone());
        }
        let (client, connection) = self.pg.connect().await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "dashboard database connection ended");
            }
        });
        let d = Arc::new(Dashboard::prepare(client).await?);
        *slot = Some(d.clone());
        Ok(d)
    }
}

fn tracked_jobs(config: &Config) -> HashMap<String, TrackedJob> {
    config
        .jobs
        .iter()
        .map(|j| {
            let quiet = j.quiet_window.or(match j.schedule {
                Schedule::Cyclic { .. } => config.global.quiet_window,
                _ => None,
            });
            (
                job_log_name(&j.name, &j.env),
                TrackedJob {
                    schedule: j.schedule.clone(),
                    schedule_words: config::schedule_words(&j.schedule),
                    timeout: j.timeout,
                    quiet,
                },
            )
        })
        .collect()
}

/// `jobmon-tracker web -c FILE`: serves until SIGTERM or SIGINT.
pub fn run(config_path: &Path) -> Result<(), String> {
    let loaded = config::load(config_path).map_err(|e| e.to_string())?;
    init_logging(&loaded.config);
    let server = prepare(&loaded.config, config_path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    // The line scripts and tests wait for (with port 0 it names the port chosen).
    eprintln!("jobmon-tracker web: dashboard at {}", server.url());
    runtime.block_on(server.serve(shutdown()));
    tracing::info!("dashboard stopped");
    Ok(())
}

/// A dashboard ready to serve: its settings checked, its users and TLS files read and its
/// address bound, so that whatever cannot work fails before anything runs.
pub struct Server {
    app: Arc<App>,
    listener: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    url: String,
}

/// Prepares the dashboard of `config`'s `[web]` table (`config_path` names the file in
/// errors); also what `run` calls when the table is present.
pub fn prepare(config: &Config, config_path: &Path) -> Result<Server, String> {
    let Some(web) = config.web.clone() else {
        return Err(format!(
            "{}: no [web] table; add one to serve the dashboard, e.g.\n[web]\nlisten = \"127.0.0.1:8470\"",
            config_path.display()
        ));
    };
    let pg = pg_config(&config.database, &ProcessEnv)
        .map_err(|e| format!("{}: {e}", config_path.display()))?;
    let auth = match &web.auth {
        WebAuth::None => Auth::None,
        WebAuth::UsersFile(f) => Auth::Users(auth::Users::new(auth::load_users(f)?)?),
        WebAuth::ProxyHeader { header, proxies } => Auth::ProxyHeader {
            header: header.clone(),
            proxies: proxies.clone(),
        },
    };
    let tls = match &web.tls {
        Some(t) => Some(server::tls_acceptor(&t.cert, &t.key)?),
        None => None,
    };
    if web.insecure {
        tracing::warn!(
            listen = %web.listen,
            "web.insecure = true: the dashboard is served without the TLS or authentication that an address reachable from other hosts needs"
        );
    }
    let listener = std::net::TcpListener::bind(web.listen)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| format!("cannot listen on {}: {e}", web.listen))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", web.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let app = Arc::new(App {
        zone: Zone::from(web.time_zone.or(config.global.time_zone)),
        tracked: tracked_jobs(config),
        auth: Arc::new(auth),
        pg,
        web,
        config: config.clone(),
        dashboard: Mutex::new(None),
        store: Mutex::new(None),
    });
    Ok(Server {
        app,
        listener,
        tls,
        url: format!("{scheme}://{local}/"),
    })
}

impl Server {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until `shutdown` resolves; must run inside a tokio runtime.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) {
        let listener = match tokio::net::TcpListener::from_std(self.listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "the dashboard cannot use its socket");
                return;
            }
        };
        tracing::info!(url = %self.url, "dashboard listening");
        server::serve(listener, routes::router(self.app), self.tls, shutdown).await;
    }
}

/// SIGTERM or SIGINT.
async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

fn init_logging(config: &Config) {
    let filter = std::env::var("JOBMON_TRACKER_LOG")
        .ok()
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(config.global.log_level.as_str()));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
