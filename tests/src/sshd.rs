//! A real OpenSSH server on 127.0.0.1 for the SSH source tests: its own host key, client
//! key, `authorized_keys` and `sshd_config` in a temporary directory, on a free port. It is
//! stopped when the [`Sshd`] value is dropped, and by a watchdog process when the test
//! process ends in any other way (panic, SIGKILL), so no test leaves an sshd behind.
//!
//! The server logs in the user running the tests (root here, with
//! `PermitRootLogin prohibit-password`); commands run on the same machine, so a "remote"
//! queue file is simply a local temporary file.

use std::fs;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tracker_worker::config::{HostKeyPolicy, Reader, SshSource};

const SSHD: &str = "/usr/sbin/sshd";

/// The address the server listens on, as sources and known_hosts name it.
pub const ADDRESS: &str = "127.0.0.1";

/// A running sshd owned by one test.
pub struct Sshd {
    dir: PathBuf,
    port: u16,
    user: String,
    host_key_fingerprint: String,
    host_key_line: String,
    server: Option<Child>,
    watchdog: Option<Child>,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn current_user() -> String {
    // SAFETY: getpwuid returns a pointer into static storage or NULL; it is read at once.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() {
            return std::env::var("USER").unwrap_or_else(|_| "root".into());
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn keygen(path: &Path) -> Result<(), String> {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "jobmon-tests", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ssh-keygen (openssh-client installed?): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ssh-keygen -f {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// `ssh-ed25519 AAAA...` of a `.pub` file, without its comment.
fn public_key(pub_file: &Path) -> Result<String, String> {
    let text =
        fs::read_to_string(pub_file).map_err(|e| format!("read {}: {e}", pub_file.display()))?;
    let mut words = text.split_whitespace();
    match (words.next(), words.next()) {
        (Some(kind), Some(b64)) => Ok(format!("{kind} {b64}")),
        _ => Err(format!("{} is not a public key", pub_file.display())),
    }
}

fn fingerprint(pub_file: &Path) -> Result<String, String> {
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(pub_file)
        .output()
        .map_err(|e| format!("ssh-keygen -l: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .filter(|f| f.starts_with("SHA256:"))
        .map(str::to_owned)
        .ok_or_else(|| format!("ssh-keygen -l printed {text:?}"))
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Sshd {
    /// Starts a server; panics with the reason (and sshd's log) if it cannot.
    pub fn start() -> Sshd {
        Self::try_start().unwrap_or_else(|e| panic!("cannot start the test sshd: {e}"))
    }

    /// Starts a server: keys, configuration, a free port, and waits until it accepts
    /// connections.
    pub fn try_start() -> Result<Sshd, String> {
        if !Path::new(SSHD).exists() {
            return Err(format!("{SSHD} is missing: install openssh-server"));
        }
        let dir = tempfile::Builder::new()
            .prefix("jobmon-sshd-")
            .tempdir_in("/tmp")
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?
            .keep();
        let mut sshd = Sshd {
            dir,
            port: 0,
            user: current_user(),
            host_key_fingerprint: String::new(),
            host_key_line: String::new(),
            server: None,
            watchdog: None,
        };
        // The watchdog goes first so that even a failed start leaves nothing behind.
        sshd.spawn_watchdog()?;
        sshd.prepare()?;
        if is_root() {
            // Privilege separation needs this directory (normally made by the service unit).
            if !Path::new("/run/sshd").exists() {
                use std::os::unix::fs::DirBuilderExt;
                fs::DirBuilder::new()
                    .mode(0o755)
                    .recursive(true)
                    .create("/run/sshd")
                    .map_err(|e| format!("mkdir /run/sshd: {e}"))?;
            }
        }
        let mut last_error = String::new();
        for _ in 0..3 {
            sshd.port = free_port()?;
            sshd.write_config_files()?;
            match sshd.launch() {
                Ok(()) => return Ok(sshd),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    fn prepare(&mut self) -> Result<(), String> {
        keygen(&self.dir.join("host_ed25519"))?;
        keygen(&self.dir.join("other_host_ed25519"))?;
        keygen(&self.dir.join("client_ed25519"))?;
        keygen(&self.dir.join("stranger_ed25519"))?;
        let client = public_key(&self.dir.join("client_ed25519.pub"))?;
        fs::write(self.dir.join("authorized_keys"), format!("{client}\n"))
            .map_err(|e| format!("write authorized_keys: {e}"))?;
        self.host_key_line = public_key(&self.dir.join("host_ed25519.pub"))?;
        self.host_key_fingerprint = fingerprint(&self.dir.join("host_ed25519.pub"))?;
        Ok(())
    }

    /// sshd_config and the known_hosts variants, which name the port.
    fn write_config_files(&self) -> Result<(), String> {
        let d = self.dir.display();
        let mut config = format!(
            "ListenAddress {ADDRESS}\n\
             Port {port}\n\
             HostKey {d}/host_ed25519\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             UsePAM no\n\
             StrictModes no\n\
             PidFile {d}/sshd.pid\n\
             PrintMotd no\n\
             UseDNS no\n\
             MaxStartups 100\n\
             MaxSessions 100\n\
             LogLevel VERBOSE\n",
            port = self.port
        );
        if is_root() {
            config.push_str("PermitRootLogin prohibit-password\n");
        }
        let write = |name: &str, text: String| {
            fs::write(self.dir.join(name), text).map_err(|e| format!("write {name}: {e}"))
        };
        write("sshd_config", config)?;
        let entry = format!("[{ADDRESS}]:{}", self.port);
        write("known_hosts", format!("{entry} {}\n", self.host_key_line))?;
        let other = public_key(&self.dir.join("other_host_ed25519.pub"))?;
        write("known_hosts_wrong_key", format!("{entry} {other}\n"))?;
        write(
            "known_hosts_hashed",
            format!("{entry} {}\n", self.host_key_line),
        )?;
        let out = Command::new("ssh-keygen")
            .arg("-H")
            .arg("-f")
            .arg(self.dir.join("known_hosts_hashed"))
            .output()
            .map_err(|e| format!("ssh-keygen -H: {e}"))?;
        let hashed = fs::read_to_string(self.dir.join("known_hosts_hashed")).unwrap_or_default();
        if !out.status.success() || !hashed.starts_with("|1|") {
            return Err(format!(
                "ssh-keygen -H did not hash known_hosts: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    fn launch(&mut self) -> Result<(), String> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("open sshd.log: {e}"))?;
        let mut cmd = Command::new(SSHD);
        cmd.arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(self.dir.join("sshd_config"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // SAFETY: setpgid is async-signal-safe. Its own process group keeps a Ctrl-C aimed
        // at the tests from killing it halfway; Drop and the watchdog stop it.
        unsafe {
            cmd.pre_exec(|| {
                libc::setpgid(0, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| format!("cannot run {SSHD}: {e}"))?;
        self.server = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if let Some(server) = self.server.as_mut() {
                if let Ok(Some(status)) = server.try_wait() {
                    self.server = None;
                    return Err(format!("sshd exited ({status}); its log:\n{}", self.log()));
                }
            }
            if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                // Wait for the banner: the port could belong to someone else for a moment.
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut banner = [0u8; 4];
                if s.read_exact(&mut banner).is_ok() && &banner == b"SSH-" {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                self.kill_server();
                return Err(format!(
                    "sshd did not accept connections; its log:\n{}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn spawn_watchdog(&mut self) -> Result<(), String> {
        let d = self.dir.display();
        let cleanup = format!(
            "if [ -f '{d}/sshd.pid' ]; then p=$(cat '{d}/sshd.pid'); \
             pkill -TERM -P \"$p\"; kill -TERM \"$p\"; fi; rm -rf '{d}'"
        );
        self.watchdog = Some(crate::spawn_watchdog(&cleanup)?);
        Ok(())
    }

    /// Stops the listener and every connection it serves (their processes are its
    /// children), then forgets the pid file.
    fn kill_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            let pid = server.id();
            for child in children_of(pid) {
                // SAFETY: kill has no memory-safety preconditions; the pids are children
                // of the sshd this fixture started.
                unsafe {
                    libc::kill(child as i32, libc::SIGTERM);
                }
            }
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = fs::remove_file(self.dir.join("sshd.pid"));
    }

    /// Stops the server and its connections, as a host going down would. The port stays
    /// this server's: [`Sshd::restart`] starts it again there.
    pub fn stop(&mut self) {
        self.kill_server();
    }

    /// Stops the server (dropping every connection) and starts it again on the same port
    /// with the same keys.
    pub fn restart(&mut self) {
        self.kill_server();
        if let Err(e) = self.launch() {
            panic!("cannot restart the test sshd: {e}");
        }
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        match self.server.as_mut() {
            Some(s) => matches!(s.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user the server logs in (the one running the tests).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The fixture's directory (keys, config, log); removed with the fixture.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Private key listed in `authorized_keys`.
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client_ed25519")
    }

    /// A valid private key the server does not accept.
    pub fn stranger_key(&self) -> PathBuf {
        self.dir.join("stranger_ed25519")
    }

    /// known_hosts with the server's key as `[127.0.0.1]:PORT ssh-ed25519 ...`.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// The same entry with its host name hashed (`|1|...`, as `ssh-keygen -H` writes).
    pub fn known_hosts_hashed(&self) -> PathBuf {
        self.dir.join("known_hosts_hashed")
    }

    /// known_hosts listing a different ed25519 key for `[127.0.0.1]:PORT`: what a client
    /// sees when the host key changed or someone intercepts the connection.
    pub fn known_hosts_wrong_key(&self) -> PathBuf {
        self.dir.join("known_hosts_wrong_key")
    }

    /// The server key's fingerprint as `ssh-keygen -l -E sha256` prints it (`SHA256:...`).
    pub fn host_key_fingerprint(&self) -> &str {
        &self.host_key_fingerprint
    }

    /// The server's public key as `ssh-ed25519 AAAA...` (no comment).
    pub fn host_key(&self) -> &str {
        &self.host_key_line
    }

    /// An SSH source for a queue file on this server: client key, the correct known_hosts
    /// file, strict host key checking; `reader_command` unset (set it for
    /// `Reader::JobmonTracker`, e.g. to the tests' `CARGO_BIN_EXE_tracker`).
    pub fn ssh_source(&self, queue: &str, reader: Reader) -> SshSource {
        self.ssh_source_on_port(self.port, queue, reader)
    }

    /// As [`Sshd::ssh_source`], but connecting to `port` (a proxy in front of this server);
    /// the known_hosts file still names this server's port, so the check is done as for
    /// this server.
    pub fn ssh_source_on_port(&self, port: u16, queue: &str, reader: Reader) -> SshSource {
        let known_hosts = if port == self.port {
            self.known_hosts()
        } else {
            let path = self.dir.join(format!("known_hosts_port_{port}"));
            let text = format!("[{ADDRESS}]:{port} {}\n", self.host_key_line);
            fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            path
        };
        SshSource {
            address: ADDRESS.into(),
            port,
            user: self.user.clone(),
            key: Some(self.client_key()),
            known_hosts: Some(known_hosts),
            host_key_policy: HostKeyPolicy::Strict,
            queue: queue.into(),
            reader,
            reader_command: None,
        }
    }

    /// The body of a `[[sources]]` table of the tracker's TOML configuration for a queue on
    /// this server (name, address, port, user, key, known_hosts, strict policy, queue,
    /// reader and, when given, reader_command). Append `delete_after_commit` as needed.
    pub fn source_toml(
        &self,
        name: &str,
        queue: &str,
        reader: Reader,
        reader_command: Option<&str>,
    ) -> String {
        let mut body = format!(
            "name = {}\naddress = {}\nport = {}\nuser = {}\nkey = {}\nknown_hosts = {}\n\
             host_key_policy = \"strict\"\nqueue = {}\nreader = {}\n",
            toml_string(name),
            toml_string(ADDRESS),
            self.port,
            toml_string(&self.user),
            toml_string(&self.client_key().to_string_lossy()),
            toml_string(&self.known_hosts().to_string_lossy()),
            toml_string(queue),
            toml_string(reader.as_str()),
        );
        if let Some(command) = reader_command {
            body.push_str(&format!("reader_command = {}\n", toml_string(command)));
        }
        body
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("sshd.log")
    }

    /// sshd's log so far (LogLevel VERBOSE: connections, accepted and refused keys).
    pub fn log(&self) -> String {
        fs::read(self.log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill_server();
        let _ = fs::remove_dir_all(&self.dir);
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// Pids whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| {
            fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    // The command name may contain spaces; fields after it are plain.
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}
