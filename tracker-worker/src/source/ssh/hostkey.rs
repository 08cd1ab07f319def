//! Checking a source host's key against an OpenSSH known_hosts file before anything else is
//! sent, under the configured [`HostKeyPolicy`]. libssh2 does the matching (plain, hashed
//! `|1|` and `[host]:port` entries); this module reads the file line by line, so a line
//! libssh2 cannot parse (a newer key type, `@cert-authority`) is skipped instead of making
//! the whole file unusable, and honours `@revoked` lines itself.

use super::super::SourceError;
use crate::config::{HostKeyPolicy, SshSource};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use ssh2::{CheckResult, HashType, KnownHostFileKind, Session};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The key the server presented, in the forms messages and files need.
struct PresentedKey<'a> {
    blob: &'a [u8],
    /// The key type as OpenSSH writes it (`ssh-ed25519`, `ecdsa-sha2-nistp256`, ...).
    kind: String,
    /// `SHA256:<base64>`, as `ssh-keygen -l` and `ssh` print it.
    fingerprint: String,
}

/// Checks the host key of a session that has done its handshake. `Err` means: do not
/// authenticate, read nothing.
pub(super) fn verify(session: &Session, config: &SshSource, host: &str) -> Result<(), SourceError> {
    let refuse = |message: String| SourceError::HostKey {
        host: host.to_owned(),
        message,
    };
    let key = presented_key(session).map_err(refuse)?;
    if config.host_key_policy == HostKeyPolicy::Off {
        tracing::warn!(
            host,
            key_type = %key.kind,
            fingerprint = %key.fingerprint,
            "host key NOT checked (host_key_policy = \"off\"): anyone able to intercept the connection can impersonate this host"
        );
        return Ok(());
    }
    let path = known_hosts_path(config).ok_or_else(|| {
        refuse(
            "no known_hosts file is configured and HOME is not set to find ~/.ssh/known_hosts"
                .into(),
        )
    })?;
    let entry = entry_name(&config.address, config.port);
    let (known, missing) = read_known_hosts(session, &path, &key).map_err(refuse)?;
    match known.check_port(&config.address, config.port, key.blob) {
        CheckResult::Match => Ok(()),
        CheckResult::Mismatch => Err(refuse(mismatch_message(config, &entry, &path, &key))),
        CheckResult::NotFound if config.host_key_policy == HostKeyPolicy::AcceptNew => {
            append_entry(&path, &entry, &key).map_err(|e| {
                refuse(format!(
                    "{entry} is unknown and its {} key {} could not be recorded in {} ({e}); \
                     with host_key_policy = \"accept-new\" an unrecorded key is not trusted",
                    key.kind,
                    key.fingerprint,
                    path.display()
                ))
            })?;
            tracing::warn!(
                host,
                key_type = %key.kind,
                fingerprint = %key.fingerprint,
                file = %path.display(),
                "new host key recorded (host_key_policy = \"accept-new\"); verify this fingerprint with the host's administrator"
            );
            Ok(())
        }
        CheckResult::NotFound => Err(refuse(not_found_message(
            config, &entry, &path, &key, missing,
        ))),
        CheckResult::Failure => Err(refuse(format!(
            "checking {entry} against {} failed (host name too long?)",
            path.display()
        ))),
    }
}

/// The server's key with its type and fingerprint.
fn presented_key(session: &Session) -> Result<PresentedKey<'_>, String> {
    let (blob, _) = session
        .host_key()
        .ok_or_else(|| "the server presented no host key".to_owned())?;
    Ok(PresentedKey {
        blob,
        kind: key_type(blob).unwrap_or_else(|| "unknown-type".into()),
        fingerprint: session
            .host_key_hash(HashType::Sha256)
            .map(|h| format!("SHA256:{}", STANDARD_NO_PAD.encode(h)))
            .unwrap_or_else(|| "SHA256:(unavailable)".into()),
    })
}

/// The known_hosts file loaded line by line into libssh2's checker (lines it cannot parse
/// skipped), refusing a key marked `@revoked`; and whether the file is missing.
fn read_known_hosts(
    session: &Session,
    path: &Path,
    key: &PresentedKey,
) -> Result<(ssh2::KnownHosts, bool), String> {
    let text = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut known = session
        .known_hosts()
        .map_err(|e| format!("cannot set up the known_hosts check: {e}"))?;
    for (n, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = String::from_utf8_lossy(raw);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(marked) = line.strip_prefix('@') {
            if is_revoked(marked, key.blob) {
                return Err(format!(
                    "the {} key {} it presented is marked @revoked in {} (line {}); nothing was read",
                    key.kind,
                    key.fingerprint,
                    path.display(),
                    n + 1
                ));
            }
            continue;
        }
        if let Err(e) = known.read_str(line, KnownHostFileKind::OpenSSH) {
            tracing::debug!(file = %path.display(), line = n + 1, error = %e, "known_hosts line skipped");
        }
    }
    let missing = text.is_empty() && !path.exists();
    Ok((known, missing))
}

/// The configured known_hosts file, else `~/.ssh/known_hosts` of the user running us.
fn known_hosts_path(config: &SshSource) -> Option<PathBuf> {
    if let Some(path) = &config.known_hosts {
        return Some(path.clone());
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(Path::new(&home).join(".ssh").join("known_hosts"))
}

/// How OpenSSH names a host in known_hosts: `[host]:port` unless the port is 22.
fn entry_name(address: &str, port: u16) -> String {
    if port == 22 {
        address.to_owned()
    } else {
        format!("[{address}]:{port}")
    }
}

/// The `ssh-keyscan` command that prints the host's keys in known_hosts form.
fn keyscan(config: &SshSource, path: &Path) -> String {
    let port = if config.port == 22 {
        String::new()
    } else {
        format!("-p {} ", config.port)
    };
    format!("ssh-keyscan {port}{} >> {}", config.address, path.display())
}

fn not_found_message(
    config: &SshSource,
    entry: &str,
    path: &Path,
    key: &PresentedKey<'_>,
    missing: bool,
) -> String {
    let where_ = if missing {
        format!("{} does not exist", path.display())
    } else {
        format!("it is not listed in {}", path.display())
    };
    format!(
        "unknown host {entry}: {where_} (host_key_policy = \"strict\"); nothing was read. \
         It presented the {} key {}. Compare that fingerprint with the host's own \
         (`ssh-keygen -lf /etc/ssh/ssh_host_{}_key.pub` run on the host), then add the key: \
         `{}` (or set host_key_policy = \"accept-new\" to record it on first contact)",
        key.kind,
        key.fingerprint,
        short_kind(&key.kind),
        keyscan(config, path)
    )
}

fn mismatch_message(
    config: &SshSource,
    entry: &str,
    path: &Path,
    key: &PresentedKey<'_>,
) -> String {
    format!(
        "HOST KEY CHANGED: {entry} presented the {} key {}, which is not the key recorded for \
         it in {}. Someone may be intercepting the connection, or the host was reinstalled; \
         nothing was read. If the change is expected, verify the new fingerprint \
         (`ssh-keygen -lf /etc/ssh/ssh_host_{}_key.pub` on the host), then replace the entry: \
         `ssh-keygen -R '{entry}' -f {}` and `{}`",
        key.kind,
        key.fingerprint,
        path.display(),
        short_kind(&key.kind),
        path.display(),
        keyscan(config, path)
    )
}

/// `ed25519`, `ecdsa` or `rsa`: the part of the host key file name OpenSSH uses.
fn short_kind(kind: &str) -> &str {
    if kind.starts_with("ecdsa") {
        "ecdsa"
    } else if kind == "ssh-rsa" {
        "rsa"
    } else if kind == "ssh-dss" {
        "dsa"
    } else {
        kind.strip_prefix("ssh-").unwrap_or(kind)
    }
}

/// The key type name at the start of an SSH public key blob (a length-prefixed string).
fn key_type(blob: &[u8]) -> Option<String> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let name = blob.get(4..4 + len)?;
    let name = std::str::from_utf8(name).ok()?;
    name.bytes()
        .all(|b| b.is_ascii_graphic())
        .then(|| name.to_owned())
}

/// Whether a `@marker hosts type base64 ...` line (marker without `@`) revokes `blob`.
/// The host pattern is not consulted: a revoked key is refused for every host.
fn is_revoked(marked: &str, blob: &[u8]) -> bool {
    let mut words = marked.split_whitespace();
    if words.next() != Some("revoked") {
        return false;
    }
    let (_hosts, _kind, encoded) = (words.next(), words.next(), words.next());
    encoded
        .and_then(|b64| STANDARD.decode(b64).ok())
        .is_some_and(|revoked| revoked == blob)
}

/// Appends `entry kind base64` to the file, creating it (mode 0600, its directory 0700).
fn append_entry(path: &Path, entry: &str, key: &PresentedKey<'_>) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
    }
    let needs_newline = fs::read(path)
        .map(|b| b.last().is_some_and(|&c| c != b'\n'))
        .unwrap_or(false);
    let mut file = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    let line = format!(
        "{}{entry} {} {}\n",
        if needs_newline { "\n" } else { "" },
        key.kind,
        STANDARD.encode(key.blob)
    );
    file.write_all(line.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(kind: &str, body: &[u8]) -> Vec<u8> {
        let mut b = (kind.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind.as_bytes());
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn entry_names_follow_openssh() {
        assert_eq!(entry_name("db1.example.com", 22), "db1.example.com");
        assert_eq!(entry_name("10.0.0.5", 2222), "[10.0.0.5]:2222");
    }

    #[test]
    fn key_type_is_read_from_the_blob() {
        assert_eq!(
            key_type(&blob("ssh-ed25519", &[0, 0, 0, 32])).as_deref(),
            Some("ssh-ed25519")
        );
        assert_eq!(key_type(&[0, 0, 0, 99, b'x']), None);
        assert_eq!(key_type(&[]), None);
        assert_eq!(short_kind("ecdsa-sha2-nistp256"), "ecdsa");
        assert_eq!(short_kind("ssh-ed25519"), "ed25519");
        assert_eq!(short_kind("ssh-rsa"), "rsa");
    }

    #[test]
    fn revoked_lines_match_the_key_whatever_the_host_pattern() {
        let key = blob("ssh-ed25519", b"0123456789abcdef0123456789abcdef");
        let line = format!("revoked * ssh-ed25519 {}", STANDARD.encode(&key));
        assert!(is_revoked(&line, &key));
        assert!(!is_revoked(&line, &blob("ssh-ed25519", b"other")));
        let ca = format!("cert-authority * ssh-ed25519 {}", STANDARD.encode(&key));
        assert!(!is_revoked(&ca, &key));
        assert!(!is_revoked("revoked", &key));
    }

    #[test]
    fn appended_entries_create_a_private_file_and_keep_lines_apart() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("known_hosts");
        let b = blob("ssh-ed25519", b"k");
        let key = PresentedKey {
            blob: &b,
            kind: "ssh-ed25519".into(),
            fingerprint: String::new(),
        };
        append_entry(&path, "[h]:2222", &key).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
        fs::write(&path, "x ssh-ed25519 AAAA").unwrap();
        append_entry(&path, "h", &key).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!(
                "x ssh-ed25519 AAAA\nh ssh-ed25519 {}\n",
                STANDARD.encode(&b)
            )
        );
    }
}
