//! systemd's service notifications (sd_notify(3)), for `Type=notify` and `WatchdogSec=`:
//! datagrams of `KEY=value` lines to the Unix socket named by `NOTIFY_SOCKET` (a path, or
//! an abstract name written with a leading `@`). The watchdog is on when `WATCHDOG_USEC`
//! is set and `WATCHDOG_PID`, if set, is this process. Without `NOTIFY_SOCKET` (not run by
//! systemd) every call does nothing. Sending never fails the caller: a lost notification
//! is logged at debug level, as libsystemd's callers usually ignore its result.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where notifications go and how often the watchdog wants to hear from us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyEnv {
    pub socket: Option<Target>,
    /// `WATCHDOG_USEC`: systemd restarts the service when no `WATCHDOG=1` came for this long.
    pub watchdog: Option<Duration>,
}

/// The notification socket's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Path(std::path::PathBuf),
    /// Linux abstract namespace (`@name`), without the `@`.
    Abstract(Vec<u8>),
}

impl NotifyEnv {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` as given (an injected
    /// environment, for tests) for process `pid`.
    pub fn parse(
        notify_socket: Option<&str>,
        watchdog_usec: Option<&str>,
        watchdog_pid: Option<&str>,
        pid: u32,
    ) -> NotifyEnv {
        let socket = notify_socket.and_then(|s| match s.as_bytes() {
            [b'/', ..] => Some(Target::Path(s.into())),
            [b'@', name @ ..] if !name.is_empty() => Some(Target::Abstract(name.to_vec())),
            _ => None,
        });
        let for_us = watchdog_pid.is_none_or(|p| p.trim().parse::<u32>() == Ok(pid));
        let watchdog = watchdog_usec
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us)
            .map(Duration::from_micros);
        NotifyEnv { socket, watchdog }
    }

    fn from_process() -> NotifyEnv {
        let var = |k: &str| std::env::var(k).ok();
        NotifyEnv::parse(
            var("NOTIFY_SOCKET").as_deref(),
            var("WATCHDOG_USEC").as_deref(),
            var("WATCHDOG_PID").as_deref(),
            std::process::id(),
        )
    }
}

/// Sends the daemon's notifications.
pub struct Notifier {
    socket: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From this process's environment.
    pub fn from_env() -> Notifier {
        let env = NotifyEnv::from_process();
        let socket = env.socket.as_ref().and_then(|t| match open(t) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(socket = ?t, error = %e, "NOTIFY_SOCKET not usable; systemd is not told that the tracker is ready");
                None
            }
        });
        Notifier {
            watchdog: env.watchdog.filter(|_| socket.is_some()),
            socket,
        }
    }

    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3)
    /// advises; `None` when systemd wants no watchdog.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|w| w / 2)
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    pub fn watchdog(&self) {
        if self.watchdog.is_some() {
            self.send("WATCHDOG=1");
        }
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping");
    }

    fn send(&self, message: &str) {
        if let Some((socket, addr)) = &self.socket {
            if let Err(e) = socket.send_to_addr(message.as_bytes(), addr) {
                tracing::debug!(error = %e, "notification to systemd not sent");
            }
        }
    }
}

fn open(target: &Target) -> std::io::Result<(UnixDatagram, SocketAddr)> {
    let addr = match target {
        Target::Path(p) => SocketAddr::from_pathname(p)?,
        Target::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)?
        }
    };
    Ok((UnixDatagram::unbound()?, addr))
}

/// A STATUS value is one line.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_abstract_names_are_read_and_other_addresses_ignored() {
        let p = NotifyEnv::parse(Some("/run/systemd/notify"), None, None, 7);
        assert_eq!(p.socket, Some(Target::Path("/run/systemd/notify".into())));
        assert_eq!(p.watchdog, None);
        let a = NotifyEnv::parse(Some("@/org/freedesktop/systemd1/notify/42"), None, None, 7);
        assert_eq!(
            a.socket,
            Some(Target::Abstract(
                b"/org/freedesktop/systemd1/notify/42".to_vec()
            ))
        );
        for other in ["", "@", "vsock:2:1234", "relative/path"] {
            assert_eq!(NotifyEnv::parse(Some(other), None, None, 7).socket, None);
        }
        assert_eq!(NotifyEnv::parse(None, Some("1000"), None, 7).socket, None);
    }

    #[test]
    fn the_watchdog_is_on_for_this_process_only() {
        let s = Some("/run/n");
        let w = |usec, pid| NotifyEnv::parse(s, usec, pid, 7).watchdog;
        assert_eq!(w(Some("30000000"), None), Some(Duration::from_secs(30)));
        assert_eq!(
            w(Some("30000000"), Some("7")),
            Some(Duration::from_secs(30))
        );
        assert_eq!(w(Some("30000000"), Some("8")), None, "another process's");
        assert_eq!(w(Some("0"), None), None);
        assert_eq!(w(Some("soon"), None), None);
        assert_eq!(w(None, Some("7")), None);
    }

    #[test]
    fn notifications_reach_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("jobmon-tracker-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("address");
        let server = UnixDatagram::bind_addr(&addr).expect("bind");
        let client = Notifier {
            socket: Some(open(&Target::Abstract(name.into_bytes())).expect("open")),
            watchdog: Some(Duration::from_secs(2)),
        };
        client.ready("holding 1 of 1 sources\nsecond line");
        client.watchdog();
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).expect("recv");
        assert_eq!(
            &buf[..n],
            b"READY=1\nSTATUS=holding 1 of 1 sources second line"
        );
        let n = server.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"WATCHDOG=1");
        assert_eq!(client.watchdog_interval(), Some(Duration::from_secs(1)));
    }
}
