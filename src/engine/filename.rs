//! Every on-disk file name of an engine directory, made and parsed in one place:
//! `NNNNNN.wal`, `NNNNNN.sst`, `MANIFEST-NNNNNN`, `CURRENT`, `LOCK`, `AUTOINC` and `*.tmp`.
//! What the files hold is left to their owners (wal/, sstable/, version/, autoinc).

use std::path::{Path, PathBuf};

/// Names the live manifest; replaced atomically by write-temp + rename.
pub const CURRENT: &str = "CURRENT";
/// Held locked while an engine has the directory open.
pub const LOCK: &str = "LOCK";
/// Auto-increment high-water marks.
pub const AUTOINC: &str = "AUTOINC";
/// Suffix of files being written that become real only by a rename.
pub const TEMP_SUFFIX: &str = ".tmp";

const MANIFEST_PREFIX: &str = "MANIFEST-";

/// What a file in an engine directory is, as told by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A write-ahead log segment.
    Wal(u64),
    /// An SSTable.
    Sst(u64),
    /// A manifest (edit log).
    Manifest(u64),
    /// The pointer to the live manifest.
    Current,
    /// The directory lock.
    Lock,
    /// Auto-increment state.
    AutoInc,
    /// A temporary file that never became real (safe to delete on open).
    Temp,
}

/// `NNNNNN.wal`.
pub fn wal_name(number: u64) -> String {
    format!("{number:06}.wal")
}

/// `NNNNNN.sst`.
pub fn sst_name(number: u64) -> String {
    format!("{number:06}.sst")
}

/// `MANIFEST-NNNNNN`.
pub fn manifest_name(number: u64) -> String {
    format!("{MANIFEST_PREFIX}{number:06}")
}

/// `<name>.tmp`: where `name` is written before it is renamed into place.
pub fn temp_name(name: &str) -> String {
    format!("{name}{TEMP_SUFFIX}")
}

/// Path of WAL segment `number` in `dir`.
pub fn wal_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(wal_name(number))
}

/// Path of SSTable `number` in `dir`.
pub fn sst_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(sst_name(number))
}

/// Path of manifest `number` in `dir`.
pub fn manifest_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(manifest_name(number))
}

/// Path of `CURRENT` in `dir`.
pub fn current_path(dir: &Path) -> PathBuf {
    dir.join(CURRENT)
}

/// Path of `LOCK` in `dir`.
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join(LOCK)
}

/// Path of `AUTOINC` in `dir`.
pub fn autoinc_path(dir: &Path) -> PathBuf {
    dir.join(AUTOINC)
}

/// Path of the temporary twin of `name` in `dir`.
pub fn temp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(temp_name(name))
}

fn parse_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Tells what an engine file is from its name; `None` for names the engine never makes.
pub fn parse_file_name(name: &str) -> Option<FileKind> {
    if name.ends_with(TEMP_SUFFIX) && name.len() > TEMP_SUFFIX.len() {
        return Some(FileKind::Temp);
    }
    match name {
        CURRENT => return Some(FileKind::Current),
        LOCK => return Some(FileKind::Lock),
        AUTOINC => return Some(FileKind::AutoInc),
        _ => {}
    }
    if let Some(digits) = name.strip_prefix(MANIFEST_PREFIX) {
        return parse_number(digits).map(FileKind::Manifest);
    }
    if let Some(digits) = name.strip_suffix(".wal") {
        return parse_number(digits).map(FileKind::Wal);
    }
    if let Some(digits) = name.strip_suffix(".sst") {
        return parse_number(digits).map(FileKind::Sst);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_names_parse_back_to_their_kind() {
        assert_eq!(parse_file_name(&wal_name(7)), Some(FileKind::Wal(7)));
        assert_eq!(
            parse_file_name(&sst_name(123_456_789)),
            Some(FileKind::Sst(123_456_789))
        );
        assert_eq!(
            parse_file_name(&manifest_name(0)),
            Some(FileKind::Manifest(0))
        );
        assert_eq!(parse_file_name(CURRENT), Some(FileKind::Current));
        assert_eq!(parse_file_name(LOCK), Some(FileKind::Lock));
        assert_eq!(parse_file_name(AUTOINC), Some(FileKind::AutoInc));
        assert_eq!(parse_file_name(&temp_name(CURRENT)), Some(FileKind::Temp));
        assert_eq!(
            parse_file_name(&temp_name(&sst_name(3))),
            Some(FileKind::Temp)
        );
        assert_eq!(sst_name(42), "000042.sst");
        assert_eq!(manifest_name(5), "MANIFEST-000005");
    }

    #[test]
    fn foreign_names_are_not_engine_files() {
        for name in [
            "",
            ".tmp",
            "x.sst",
            "12a.wal",
            "MANIFEST-",
            "MANIFEST-1x",
            "CURRENT2",
            "+1.sst",
            "000001.log",
        ] {
            assert_eq!(parse_file_name(name), None, "{name}");
        }
    }

    #[test]
    fn paths_join_the_directory() {
        let dir = Path::new("/data/t");
        assert_eq!(sst_path(dir, 1), PathBuf::from("/data/t/000001.sst"));
        assert_eq!(
            temp_path(dir, CURRENT),
            PathBuf::from("/data/t/CURRENT.tmp")
        );
    }
}
