//! Replacing a file atomically: write a temporary file in the same directory, fsync it,
//! rename it over the target, fsync the directory. The temporary name starts with a dot
//! and does not end in `.state`, `.prom` or the target's name, so neither `cat *.state`,
//! the Checkmk agent's spool loop nor node_exporter ever reads a half-written file.

use super::OutputError;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// Replaces `path` with `contents` (mode 0644, so the Checkmk agent and node_exporter can
/// read it whatever user they run as). On failure the old file is untouched and no
/// temporary file is left behind.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), OutputError> {
    replace(path, contents, true)
}

/// [`write_atomic`] without the fsyncs: readers still see the old file or the new one, but
/// after a power failure the file may be empty. For the per-job state files, thousands of
/// which are rewritten on every poll (an fsync each would take longer than the poll).
pub fn write_replace(path: &Path, contents: &[u8]) -> Result<(), OutputError> {
    replace(path, contents, false)
}

fn replace(path: &Path, contents: &[u8], durable: bool) -> Result<(), OutputError> {
    let tmp = temp_path(path);
    let err = |action, source| OutputError {
        path: path.to_owned(),
        action,
        source,
    };
    let written = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
        let mut file = options
            .open(&tmp)
            .map_err(|e| err("create a temporary file", e))?;
        file.write_all(contents).map_err(|e| err("write", e))?;
        if durable {
            file.sync_all().map_err(|e| err("fsync", e))?;
        }
        drop(file);
        fs::rename(&tmp, path).map_err(|e| err("rename the temporary file over it", e))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
        return written;
    }
    if !durable {
        return Ok(());
    }
    // Makes the rename itself durable; some file systems refuse to fsync a directory,
    // and the new contents are in place either way, so a failure here is not reported.
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
