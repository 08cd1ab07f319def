//! `jobmon-tracker config check|import` (and `suggest`, in its own module).

use super::{note, print, CliError, ConfigCommand};
use crate::config::{self, ConfigError, Format};
use crate::store::connect::{pg_config, ProcessEnv};

fn runtime(e: ConfigError) -> CliError {
    CliError::Runtime(e.to_string())
}

pub fn run(cmd: ConfigCommand) -> Result<(), CliError> {
    match cmd {
        ConfigCommand::Check { file } => {
            let loaded = config::load(&file).map_err(runtime)?;
            let format = match loaded.format {
                Format::Toml => "TOML",
                Format::LegacyJson => "job_tracker (2016) JSON",
            };
            for n in &loaded.notes {
                note(&format!("note: {n}"));
            }
            for w in config::warnings(&loaded.config) {
                note(&format!("warning: {w}"));
            }
            // The connection settings as the daemon completes them (PG* variables, service
            // and pgpass files, TLS files), without connecting; secrets never enter a message.
            pg_config(&loaded.config.database, &ProcessEnv)
                .map_err(|e| CliError::Runtime(format!("{}: {e}", file.display())))?;
            print(&format!(
                "{}: valid {format} configuration\n{}",
                file.display(),
                config::summary(&loaded.config)
            ))
        }
        ConfigCommand::Import { file } => {
            let text = std::fs::read_to_string(&file).map_err(|source| {
                runtime(ConfigError::Read {
                    file: file.clone(),
                    source,
                })
            })?;
            if Format::detect(&file, &text) == Format::Toml {
                return Err(CliError::Runtime(format!(
                    "{}: not a job_tracker JSON configuration (it does not start with `{{`)",
                    file.display()
                )));
            }
            let (config, notes) = config::parse_legacy(&file, &text).map_err(runtime)?;
            print(&config::to_toml(&config, &notes))
        }
        ConfigCommand::Suggest(args) => super::suggest_cmd::run(args),
    }
}
