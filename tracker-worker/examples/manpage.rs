//! Writes the man pages of jobmon-tracker into the directory given as the only argument:
//! jobmon-tracker.1 and one page per subcommand (jobmon-tracker-queue-read.1, ...), all
//! from the clap definitions, so the pages say what `--help` says. Run by
//! packaging/build.sh: `cargo run --example manpage -- OUTDIR`.

use clap::CommandFactory;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: manpage OUTDIR");
        return ExitCode::from(2);
    };
    let cmd = tracker_worker::cli::Cli::command();
    let written = std::fs::create_dir_all(&dir).and_then(|()| clap_mangen::generate_to(cmd, &dir));
    if let Err(e) = written {
        eprintln!("manpage: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
