//! Checkmk Event Console messages: RFC 5424 syslog lines carrying Checkmk's own
//! structured-data element `[Checkmk@18662 ...]`, which sets the event's service level,
//! application and (optionally) host. Only the formatting lives here; sending and queueing
//! belong to the sender.

use crate::host::local_hostname;
use chrono::{DateTime, SecondsFormat, Utc};
use tracker_core::model::EventConsole;
use tracker_core::rules::{Evaluation, State};

/// The parts of an Event Console message that come from the tracker's setup, not the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcFormat {
    /// HOSTNAME of the syslog header: the tracker's host (FQDN), `-` if unknown.
    pub hostname: String,
    /// APP-NAME of the syslog header.
    pub app_name: String,
    /// Syslog facility, 0-23 (1 = user, 16-23 = local0-local7).
    pub facility: u8,
    /// Checkmk service level (`sl`): 0 none, 10 silver, 20 gold, 30 platinum by default.
    pub service_level: u32,
    /// Checkmk host the event belongs to (`host` in the element); `None`: the EC takes
    /// HOSTNAME.
    pub host: Option<String>,
}

impl Default for EcFormat {
    fn default() -> Self {
        EcFormat {
            hostname: "-".into(),
            app_name: "jobmon-tracker".into(),
            facility: 1,
            service_level: 0,
            host: None,
        }
    }
}

/// The message header a configuration asks for.
pub trait EcHeader {
    /// The header of `[output.event_console]`; an unset hostname becomes this machine's name.
    fn format(&self) -> EcFormat;
}

impl EcHeader for EventConsole {
    fn format(&self) -> EcFormat {
        EcFormat {
            hostname: self.hostname.clone().unwrap_or_else(local_hostname),
            app_name: self.app_name.clone(),
            facility: self.facility,
            service_level: self.service_level,
            host: self.host.clone(),
        }
    }
}

/// The syslog severity of a state. With an EC rule whose state is "(set by syslog)",
/// Checkmk maps 5-7 to OK, 4 to WARN and 0-3 to CRIT; UNKNOWN has no severity of its own,
/// so it is sent as `err` (3) and the text says UNKNOWN (for a text-pattern rule).
pub fn syslog_severity(state: State) -> u8 {
    match state {
        State::Ok => 5,       // notice: a recovery is worth seeing
        State::Warning => 4,  // warning
        State::Critical => 2, // crit
        State::Unknown => 3,  // err
    }
}

/// A structured-data parameter value, escaped as RFC 5424 section 6.3.3 says (`"`, `\`
/// and `]` get a backslash); control characters become spaces, since a newline would end
/// the message on a stream transport.
pub fn sd_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '\\' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `at` cut to whole microseconds: RFC 5424 allows at most six fraction digits.
fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at - chrono::TimeDelta::nanoseconds(i64::from(at.timestamp_subsec_nanos() % 1000))
}

/// A header field: printable US-ASCII only, at most `max` characters, `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let out: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(max)
        .collect();
    if out.is_empty() {
        "-".into()
    } else {
        out
    }
}

/// One Event Console message for `service`'s evaluation, stamped `at`, without a trailing
/// newline (framing is the transport's business):
///
/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [Checkmk@18662 sl="0" application="<service>"] <STATE> - <text>`
///
/// PRI is facility * 8 + [`syslog_severity`]; MSGID is the reason (`DELAYED`).
pub fn ec_message(
    format: &EcFormat,
    service: &str,
    eval: &Evaluation,
    at: DateTime<Utc>,
) -> String {
    let pri = u16::from(format.facility.min(23)) * 8 + u16::from(syslog_severity(eval.state));
    let mut sd = format!(
        "[Checkmk@18662 sl=\"{}\" application=\"{}\"",
        format.service_level,
        sd_escape(service)
    );
    if let Some(host) = &format.host {
        sd.push_str(&format!(" host=\"{}\"", sd_escape(host)));
    }
    sd.push(']');
    let text: String = eval
        .text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!(
        "<{pri}>1 {} {} {} - {} {sd} {} - {text}",
        micros(at).to_rfc3339_opts(SecondsFormat::AutoSi, true),
        header_field(&format.hostname, 255),
        header_field(&format.app_name, 48),
        header_field(eval.reason.as_str(), 32),
        eval.state.as_str(),
    )
}
