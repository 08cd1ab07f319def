//! The jobmon-tracker program, built inside the test crate so that its integration tests
//! can run it as a process (`CARGO_BIN_EXE_tracker`): SIGKILL, SIGTERM, SIGHUP and two
//! trackers at once need a real process. Same code as tracker-worker's `jobmon-tracker`.

fn main() -> std::process::ExitCode {
    tracker_worker::cli::main()
}
