//! jobmon-tracker: see `jobmon-tracker --help` and the crate's library documentation.

fn main() -> std::process::ExitCode {
    tracker_worker::cli::main()
}
