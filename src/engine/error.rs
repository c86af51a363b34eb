//! engine::Error: every way the storage engine can fail. Knows no Tablestore error codes;
//! `crate::error` maps these to OTSInternalServerError / OTSServerBusy at the edge.

use std::path::PathBuf;

/// Result alias for the engine.
pub type Result<T> = std::result::Result<T, Error>;

/// An engine failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system I/O failure on a file.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Bytes on disk fail a checksum or do not parse.
    #[error("corruption in {file} at offset {offset}: {what}")]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damaged record or block.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// An earlier fsync or write failed; the engine refuses writes until reopened.
    #[error("engine is poisoned by an earlier I/O failure; reopen it")]
    Poisoned,
    /// The engine was closed.
    #[error("engine is closed")]
    Closed,
    /// Writers were stalled longer than allowed waiting for flush/compaction.
    #[error("write stalled: {0}")]
    Stalled(String),
    /// A caller passed something the engine cannot store (oversized key, bad row key).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether this is a full disk or an exhausted quota (ENOSPC / EDQUOT): a condition that
    /// passes once space is freed, unlike a failed fsync or damaged data.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Error::Io { source, .. } if is_disk_full(source))
    }

    /// Whether this is a lack of file descriptors (EMFILE / ENFILE).
    pub fn is_out_of_descriptors(&self) -> bool {
        matches!(self, Error::Io { source, .. } if is_out_of_descriptors(source))
    }

    /// Whether a resource ran out that comes back by itself or by the operator's hand (disk
    /// space, file descriptors): the failed work is refused or retried, and the engine stays
    /// writable, because nothing on disk was left half done.
    pub fn is_resource_exhausted(&self) -> bool {
        self.is_disk_full() || self.is_out_of_descriptors()
    }

    /// A corruption error for `file` at `offset`.
    pub fn corruption(file: impl Into<PathBuf>, offset: u64, what: impl Into<String>) -> Error {
        Error::Corruption {
            file: file.into(),
            offset,
            what: what.into(),
        }
    }
}

/// Whether an OS error says the process or the system has no file descriptor left.
pub fn is_out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Whether an OS error says the disk is full or the quota used up (ENOSPC / EDQUOT, or
/// their kinds once the raw code is gone).
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
        || matches!(
            e.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: i32) -> Error {
        Error::io("/d/f", std::io::Error::from_raw_os_error(errno))
    }

    #[test]
    fn only_a_lack_of_space_or_descriptors_is_resource_exhaustion() {
        for errno in [libc::ENOSPC, libc::EDQUOT, libc::EMFILE, libc::ENFILE] {
            assert!(os(errno).is_resource_exhausted(), "errno {errno}");
        }
        assert!(os(libc::ENOSPC).is_disk_full() && !os(libc::ENOSPC).is_out_of_descriptors());
        assert!(os(libc::EMFILE).is_out_of_descriptors() && !os(libc::EMFILE).is_disk_full());
        for e in [
            os(libc::EIO),
            Error::Poisoned,
            Error::corruption("/d/f", 0, "bad"),
        ] {
            assert!(!e.is_resource_exhausted(), "{e}");
        }
        // A failed fsync is wrapped (see wal::writer) and must never read as disk full.
        let fsync = Error::io("/d/f", std::io::Error::other("fdatasync failed: ENOSPC"));
        assert!(!fsync.is_resource_exhausted());
    }
}
