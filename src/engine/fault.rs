//! Disk-full injection for unit tests: a folder marked full refuses the engine's writes
//! with ENOSPC, as a full disk would, so tests drive the recovery paths without filling a
//! real disk. Compiles to plain writes outside `cfg(test)`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Which writes a folder marked full refuses.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// Every write.
    All,
    /// Only SSTable writes (flush and compaction), so the WAL still takes commits.
    Tables,
    /// Only manifest writes, so a flush writes its table and then fails to log it.
    Manifest,
}

#[cfg(test)]
static FULL: parking_lot::Mutex<Vec<(std::path::PathBuf, Full)>> =
    parking_lot::Mutex::new(Vec::new());

/// Marks `dir` (and everything below it) full, or clears it with `None`.
#[cfg(test)]
pub fn set_disk_full(dir: &Path, full: Option<Full>) {
    let mut dirs = FULL.lock();
    dirs.retain(|(d, _)| d != dir);
    if let Some(which) = full {
        dirs.push((dir.to_path_buf(), which));
    }
}

#[cfg(test)]
fn is_full(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let refused = |which: Full| match which {
        Full::All => true,
        Full::Tables => name.ends_with(".sst"),
        Full::Manifest => name.starts_with("MANIFEST"),
    };
    FULL.lock()
        .iter()
        .any(|(d, which)| path.starts_with(d) && refused(*which))
}

#[cfg(test)]
fn enospc() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::ENOSPC)
}

/// Fails with ENOSPC when a write to `path` would land in a folder marked full.
#[inline(always)]
pub fn check_space(path: &Path) -> std::io::Result<()> {
    #[cfg(test)]
    if is_full(path) {
        return Err(enospc());
    }
    let _ = path;
    Ok(())
}

/// `write_all_at`; in a folder marked full, writes the first half of `bytes` and fails, as
/// a disk that fills up in the middle of a write leaves a torn record.
#[inline(always)]
pub fn write_all_at(file: &File, path: &Path, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    #[cfg(test)]
    if is_full(path) {
        file.write_all_at(&bytes[..bytes.len() / 2], offset)?;
        return Err(enospc());
    }
    let _ = path;
    file.write_all_at(bytes, offset)
}
