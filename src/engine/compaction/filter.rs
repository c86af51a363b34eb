//! `CompactionFilter`: decides, record by record over the merged sorted stream of a
//! compaction, which records survive: shadowed versions, tombstoned rows and columns, versions
//! past max_versions or TTL, and (at the bottommost level) the tombstones themselves.
//! Records newer than the smallest live snapshot are always kept; readers see the rest as before.

use crate::engine::error::{Error, Result};
use crate::engine::key::{self, CellBody, Kind, SeqNo};
use crate::engine::options::DataOptions;

/// What one compaction job's filter needs to know, fixed when the job starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterParams {
    /// The oldest seqno any reader may still read at: newer records are always kept.
    pub smallest_snapshot: SeqNo,
    /// TTL and max_versions, read fresh for each job.
    pub data: DataOptions,
    /// Wall-clock time for TTL, in ms.
    pub now_ms: i64,
    /// True when no level below the output holds data of these rows: tombstones can go.
    pub bottommost: bool,
}

/// Per-stream state: the row and column being walked and what already covers them.
#[derive(Debug)]
pub struct CompactionFilter {
    params: FilterParams,
    row: Vec<u8>,
    /// Seqno of the row head (DeleteRow / RowExists) at or below the snapshot: older records
    /// of the row are dead.
    row_cutoff: Option<SeqNo>,
    column: Option<Vec<u8>>,
    /// Seqno of the column tombstone at or below the snapshot: older column records are dead.
    column_cutoff: Option<SeqNo>,
    /// Live Put versions of `column` counted so far among records at or below the snapshot.
    column_versions: u32,
    cell: Vec<u8>,
    /// True once the newest record of `cell` at or below the snapshot was decided: every
    /// older record of the same cell is shadowed by it.
    cell_decided: bool,
}

fn malformed(what: &str) -> Error {
    Error::corruption(
        "compaction input",
        0,
        format!("malformed internal key: {what}"),
    )
}

impl CompactionFilter {
    /// A filter for one compaction stream.
    pub fn new(params: FilterParams) -> CompactionFilter {
        CompactionFilter {
            params,
            row: Vec::new(),
            row_cutoff: None,
            column: None,
            column_cutoff: None,
            column_versions: 0,
            cell: Vec::new(),
            cell_decided: false,
        }
    }

    /// True when a version written at `version_ms` has outlived the TTL.
    fn expired(&self, version_ms: i64) -> bool {
        match self.params.data.ttl_secs {
            Some(ttl) => version_ms.saturating_add(ttl.saturating_mul(1000)) < self.params.now_ms,
            None => false,
        }
    }

    /// Decides whether the record (`internal_key`, `value`) survives. Records must come in
    /// internal-key order.
    ///
    /// Errors: `Corruption` when the key is not a well-formed internal key.
    pub fn keep(&mut self, internal_key: &[u8], value: &[u8]) -> Result<bool> {
        let (cell, seqno, kind) =
            key::split_internal_key(internal_key).ok_or_else(|| malformed("trailer"))?;
        let parsed = key::parse_cell_key(cell).ok_or_else(|| malformed("cell key"))?;
        if parsed.row != self.row.as_slice() {
            self.row.clear();
            self.row.extend_from_slice(parsed.row);
            self.row_cutoff = None;
            self.column = None;
            self.column_cutoff = None;
            self.column_versions = 0;
        }
        if cell != self.cell.as_slice() {
            self.cell.clear();
            self.cell.extend_from_slice(cell);
            self.cell_decided = false;
        }
        if seqno > self.params.smallest_snapshot {
            return Ok(true);
        }
        if self.cell_decided {
            return Ok(false);
        }
        self.cell_decided = true;
        if self.row_cutoff.is_some_and(|cut| seqno < cut) {
            return Ok(false);
        }
        let bottommost = self.params.bottommost;
        match parsed.body {
            CellBody::RowHead => {
                self.row_cutoff = Some(seqno);
                match kind {
                    Kind::RowExists => {
                        let expired = value
                            .try_into()
                            .map(|b: [u8; 8]| self.expired(i64::from_le_bytes(b)))
                            .unwrap_or(false);
                        // An expired marker still hides older records of the row, so it can
                        // only go where nothing older remains below it.
                        Ok(!(expired && bottommost))
                    }
                    _ => Ok(!bottommost),
                }
            }
            CellBody::ColumnTombstone { column } => {
                self.column = Some(column);
                self.column_cutoff = Some(seqno);
                self.column_versions = 0;
                Ok(!bottommost)
            }
            CellBody::Version { column, version_ms } => {
                if self.column.as_ref() != Some(&column) {
                    self.column = Some(column);
                    self.column_cutoff = None;
                    self.column_versions = 0;
                }
                if self.column_cutoff.is_some_and(|cut| seqno < cut) {
                    return Ok(false);
                }
                match kind {
                    Kind::Put => {
                        // All records of this (column, version) share its expiry, so an
                        // expired one can go at any level without uncovering another.
                        if self.expired(version_ms) {
                            return Ok(false);
                        }
                        self.column_versions += 1;
                        let max = self.params.data.max_versions;
                        Ok(max == 0 || self.column_versions <= max)
                    }
                    _ => Ok(!bottommost),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::key::{column_tombstone_key, make_internal_key, row_head_key, version_key};

    const ROW: &[u8] = b"\x02\x80\0\0\0\0\0\0\x01";
    const ROW2: &[u8] = b"\x02\x80\0\0\0\0\0\0\x02";

    #[derive(Debug, Clone)]
    struct Rec {
        key: Vec<u8>,
        value: Vec<u8>,
        name: String,
    }

    fn put(row: &[u8], col: &str, ver: i64, seq: SeqNo) -> Rec {
        Rec {
            key: make_internal_key(version_key(row, col.as_bytes(), ver), seq, Kind::Put),
            value: b"v".to_vec(),
            name: format!("put {col}@{ver}#{seq}"),
        }
    }
    fn del_version(row: &[u8], col: &str, ver: i64, seq: SeqNo) -> Rec {
        Rec {
            key: make_internal_key(
                version_key(row, col.as_bytes(), ver),
                seq,
                Kind::DeleteVersion,
            ),
            value: Vec::new(),
            name: format!("delver {col}@{ver}#{seq}"),
        }
    }
    fn del_column(row: &[u8], col: &str, seq: SeqNo) -> Rec {
        Rec {
            key: make_internal_key(
                column_tombstone_key(row, col.as_bytes()),
                seq,
                Kind::DeleteColumn,
            ),
            value: Vec::new(),
            name: format!("delcol {col}#{seq}"),
        }
    }
    fn del_row(row: &[u8], seq: SeqNo) -> Rec {
        Rec {
            key: make_internal_key(row_head_key(row), seq, Kind::DeleteRow),
            value: Vec::new(),
            name: format!("delrow #{seq}"),
        }
    }
    fn row_exists(row: &[u8], ver: i64, seq: SeqNo) -> Rec {
        Rec {
            key: make_internal_key(row_head_key(row), seq, Kind::RowExists),
            value: ver.to_le_bytes().to_vec(),
            name: format!("exists @{ver}#{seq}"),
        }
    }

    fn params(snapshot: SeqNo, max_versions: u32, bottommost: bool) -> FilterParams {
        FilterParams {
            smallest_snapshot: snapshot,
            data: DataOptions {
                ttl_secs: None,
                max_versions,
            },
            now_ms: 1_000_000,
            bottommost,
        }
    }

    /// Runs the filter over `records` (sorted here) and returns the names kept.
    fn kept(p: FilterParams, mut records: Vec<Rec>) -> Vec<String> {
        records.sort_by(|a, b| a.key.cmp(&b.key));
        let mut f = CompactionFilter::new(p);
        records
            .into_iter()
            .filter(|r| f.keep(&r.key, &r.value).unwrap())
            .map(|r| r.name)
            .collect()
    }

    #[test]
    fn only_the_newest_record_of_a_cell_at_or_below_the_snapshot_survives() {
        let recs = vec![
            put(ROW, "a", 5, 1),
            put(ROW, "a", 5, 2),
            put(ROW, "a", 5, 3),
        ];
        assert_eq!(kept(params(100, 10, false), recs.clone()), ["put a@5#3"]);
        // Snapshot at 2: #3 is newer than every reader's snapshot bound, #2 is what the
        // snapshot sees, #1 is shadowed for everyone.
        assert_eq!(
            kept(params(2, 10, false), recs.clone()),
            ["put a@5#3", "put a@5#2"]
        );
        assert_eq!(
            kept(params(0, 10, false), recs),
            ["put a@5#3", "put a@5#2", "put a@5#1"]
        );
    }

    #[test]
    fn row_tombstone_drops_older_records_of_its_row_only() {
        let recs = vec![
            put(ROW, "a", 5, 1),
            put(ROW, "b", 9, 2),
            del_row(ROW, 3),
            put(ROW, "b", 8, 4),
            put(ROW2, "a", 5, 1),
        ];
        let got = kept(params(100, 10, false), recs.clone());
        assert_eq!(got, ["delrow #3", "put b@8#4", "put a@5#1"]);
        // A reader at snapshot 2 still needs the row as it was before the delete.
        let got = kept(params(2, 10, false), recs.clone());
        assert_eq!(
            got,
            [
                "delrow #3",
                "put a@5#1",
                "put b@9#2",
                "put b@8#4",
                "put a@5#1"
            ]
        );
        // Bottommost: nothing older can survive below, so the tombstone goes too.
        let got = kept(params(100, 10, true), recs);
        assert_eq!(got, ["put b@8#4", "put a@5#1"]);
    }

    #[test]
    fn row_exists_marker_replaces_the_row_and_is_kept_as_data() {
        let recs = vec![
            put(ROW, "a", 5, 1),
            row_exists(ROW, 999_999, 2),
            put(ROW, "c", 7, 3),
        ];
        assert_eq!(
            kept(params(100, 10, true), recs),
            ["exists @999999#2", "put c@7#3"]
        );
    }

    #[test]
    fn column_tombstone_drops_older_versions_of_that_column_only() {
        let recs = vec![
            put(ROW, "a", 5, 1),
            put(ROW, "a", 6, 2),
            del_column(ROW, "a", 3),
            put(ROW, "a", 4, 4),
            put(ROW, "b", 5, 1),
        ];
        let got = kept(params(100, 10, false), recs.clone());
        assert_eq!(got, ["delcol a#3", "put a@4#4", "put b@5#1"]);
        let got = kept(params(100, 10, true), recs.clone());
        assert_eq!(got, ["put a@4#4", "put b@5#1"]);
        let got = kept(params(2, 10, true), recs);
        assert_eq!(
            got,
            [
                "delcol a#3",
                "put a@6#2",
                "put a@5#1",
                "put a@4#4",
                "put b@5#1"
            ]
        );
    }

    #[test]
    fn versions_beyond_max_versions_are_dropped_per_column() {
        let recs = vec![
            put(ROW, "a", 1, 1),
            put(ROW, "a", 2, 2),
            put(ROW, "a", 3, 3),
            del_version(ROW, "a", 4, 5),
            put(ROW, "a", 4, 4),
            put(ROW, "b", 1, 6),
        ];
        // a@4 is deleted, so a@3 and a@2 are the two visible versions.
        let got = kept(params(100, 2, false), recs.clone());
        assert_eq!(got, ["delver a@4#5", "put a@3#3", "put a@2#2", "put b@1#6"]);
        // Bottommost also drops the DeleteVersion (its Put is gone already).
        let got = kept(params(100, 2, true), recs.clone());
        assert_eq!(got, ["put a@3#3", "put a@2#2", "put b@1#6"]);
        // Records above the snapshot neither count nor get dropped.
        let got = kept(params(2, 1, false), recs);
        assert_eq!(
            got,
            [
                "delver a@4#5",
                "put a@4#4",
                "put a@3#3",
                "put a@2#2",
                "put b@1#6"
            ]
        );
    }

    #[test]
    fn expired_versions_and_markers_are_dropped_by_ttl() {
        let mut p = params(100, 10, false);
        p.data.ttl_secs = Some(10);
        p.now_ms = 100_000;
        // Expired: version_ms + 10_000 < 100_000, i.e. version_ms < 90_000.
        let recs = vec![
            put(ROW, "a", 95_000, 1),
            put(ROW, "a", 90_000, 2),
            put(ROW, "a", 89_999, 3),
            row_exists(ROW2, 1, 4),
            put(ROW2, "z", 1, 5),
        ];
        let got = kept(p, recs.clone());
        // The expired marker still hides older data below, so it stays above the bottom.
        assert_eq!(got, ["put a@95000#1", "put a@90000#2", "exists @1#4"]);
        p.bottommost = true;
        assert_eq!(kept(p, recs.clone()), ["put a@95000#1", "put a@90000#2"]);
        // Above the snapshot nothing is dropped, expired or not.
        p.smallest_snapshot = 0;
        assert_eq!(kept(p, recs).len(), 5);
    }

    #[test]
    fn tombstones_above_the_snapshot_survive_even_at_the_bottom() {
        let recs = vec![
            put(ROW, "a", 1, 1),
            del_row(ROW, 5),
            del_column(ROW, "b", 6),
        ];
        let got = kept(params(4, 10, true), recs);
        assert_eq!(got, ["delrow #5", "put a@1#1", "delcol b#6"]);
    }

    #[test]
    fn malformed_keys_are_corruption() {
        let mut f = CompactionFilter::new(params(1, 1, false));
        assert!(matches!(
            f.keep(b"short", b""),
            Err(Error::Corruption { .. })
        ));
        let bad_cell = make_internal_key(b"\x01\x02".to_vec(), 1, Kind::Put);
        assert!(matches!(
            f.keep(&bad_cell, b""),
            Err(Error::Corruption { .. })
        ));
    }
}
