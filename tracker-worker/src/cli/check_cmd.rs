//! `jobmon-tracker check`: evaluates every configured job once from what PostgreSQL holds
//! and prints the Checkmk local-check lines. Reads only: nothing is polled, stored, written
//! or sent, so it can run next to the daemon (e.g. as the Checkmk agent's local check).

use super::{print, CheckArgs, CliError};
use crate::config;
use crate::monitor::Monitor;
use crate::output::{check_text, SPOOL_HEADER};
use crate::store::connect::{pg_config, ProcessEnv};
use crate::store::Store;

pub fn run(args: CheckArgs) -> Result<(), CliError> {
    let loaded = config::load(&args.config).map_err(|e| CliError::Runtime(e.to_string()))?;
    let config = loaded.config;
    let monitor = Monitor::new(&config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Runtime(format!("cannot start the runtime: {e}")))?;
    let now = chrono::Utc::now();
    let evaluated = runtime.block_on(async {
        let pg = pg_config(&config.database, &ProcessEnv).map_err(|e| e.to_string())?;
        let work = async {
            let store = Store::connect(&pg).await?;
            monitor.evaluate(&store, now).await
        };
        match tokio::time::timeout(args.timeout, work).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "no answer within {}",
                config::format_duration(args.timeout)
            )),
        }
    });
    let evals = evaluated.unwrap_or_else(|e| monitor.unavailable(&e, now));
    let mut text = String::new();
    if args.header {
        text.push_str(SPOOL_HEADER);
        text.push('\n');
    }
    text.push_str(&check_text(&monitor.reports(&evals)));
    print(&text)
}
