//! This machine's name: the one place the tracker reads it (for the Event Console's syslog
//! HOSTNAME, the heartbeat and the state rows); callers choose what stands in for it.

/// This machine's name as the kernel knows it; `-` (the syslog nil value) if unreadable.
pub fn local_hostname() -> String {
    kernel_hostname().unwrap_or_else(|| "-".into())
}

/// This machine's name as the kernel knows it, if it can be read and is not empty.
pub fn kernel_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}
