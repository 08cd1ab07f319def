//! The check state of a job, as Checkmk and Nagios number and name it.

/// The Checkmk state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl State {
    /// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN: Checkmk's (and Nagios') codes.
    pub fn code(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Critical => 2,
            State::Unknown => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    /// Which state wins when several apply: OK, WARNING, UNKNOWN, CRITICAL (Checkmk's order
    /// of badness, and how Nagios aggregates: a known outage outranks not knowing).
    pub fn badness(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Unknown => 2,
            State::Critical => 3,
        }
    }
}
