//! fsync helpers shared by the WAL, the manifest and the other small files the engine keeps.
//!
//! A failed fsync is never reported as "disk full", whatever its errno: the kernel may have
//! dropped the dirty pages, so what the file holds is unknown and the engine must stop rather
//! than retry (see `Error::is_resource_exhausted`).

use std::fs::File;
use std::path::Path;

use super::error::{Error, Result};

/// The error for a failed fsync of `path`: never a resource shortage, so never retried.
pub fn failed(path: &Path, e: std::io::Error) -> Error {
    Error::io(path, std::io::Error::other(format!("fsync failed: {e}")))
}

/// fdatasyncs `file` (at `path`).
pub fn sync_data(file: &File, path: &Path) -> Result<()> {
    file.sync_data().map_err(|e| failed(path, e))
}

/// fsyncs a directory so that created, renamed or deleted names in it survive a crash.
/// Opening the directory may fail for lack of descriptors, which passes like a full disk.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| Error::io(dir, e))?;
    d.sync_all().map_err(|e| failed(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_fsync_is_never_a_resource_shortage() {
        let enospc = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let e = failed(Path::new("/d/f"), enospc);
        assert!(!e.is_resource_exhausted(), "{e}");
        assert!(e.to_string().contains("fsync failed"), "{e}");
    }

    #[test]
    fn a_directory_syncs() {
        let dir = tempfile::tempdir().unwrap();
        sync_dir(dir.path()).unwrap();
        assert!(sync_dir(&dir.path().join("missing")).is_err());
    }
}
