//! Row assembly: turns the raw records of one row (internal keys from a merged `KvIter`,
//! every source at one snapshot) into the `Row` a read sees, and drives point reads and
//! scans over such an iterator. The visibility rules live here and only here:
//!
//! 1. Records with `seqno > snapshot` do not exist.
//! 2. The row head's newest record sets the row floor: every older record of the row is hidden.
//! 3. A column tombstone's newest record likewise hides older records of its column.
//! 4. For each version key the newest record decides: `DeleteVersion` hides it, `Put` shows it
//!    unless TTL-expired (`version_ms + ttl_secs*1000 < now_ms`, current DataOptions) or beyond
//!    the table's `max_versions` newest visible versions.
//! 5. Then the read's filters: time range, max versions, column projection, column range.
//!
//! A row exists if it has a visible cell before step 5, or its newest row-head record is a
//! non-expired `RowExists`.

use super::error::{Error, Result};
use super::iter::KvIter;
use super::key::{self, Kind, RawCellBody, SeqNo};
use super::options::DataOptions;
use super::row_buf::{Mark, RowBuf};
use super::{Direction, ReadOptions, Row};

/// Everything a read needs besides the records: the snapshot, the clock reading and the
/// table's data options, all fixed when the read starts.
#[derive(Debug, Clone)]
pub struct ReadContext {
    /// Records newer than this seqno are invisible.
    pub snapshot: SeqNo,
    /// Wall clock in ms, for TTL.
    pub now_ms: i64,
    /// The table's TTL and max_versions.
    pub data: DataOptions,
    /// The read's own filters.
    pub read: ReadOptions,
}

impl ReadContext {
    fn expired(&self, version_ms: i64) -> bool {
        match self.data.ttl_secs {
            Some(ttl) => version_ms.saturating_add(ttl.saturating_mul(1000)) < self.now_ms,
            None => false,
        }
    }

    fn table_max_versions(&self) -> usize {
        self.data.max_versions.max(1) as usize
    }

    fn read_max_versions(&self) -> usize {
        match self.read.max_versions {
            0 => self.table_max_versions(),
            n => (n as usize).min(self.table_max_versions()),
        }
    }

    fn wants_column(&self, name: &[u8]) -> bool {
        if let Some(cols) = &self.read.columns {
            if !cols.iter().any(|c| c.as_slice() == name) {
                return false;
            }
        }
        if let Some(start) = &self.read.start_column {
            if name < start.as_slice() {
                return false;
            }
        }
        if let Some(end) = &self.read.end_column {
            if name >= end.as_slice() {
                return false;
            }
        }
        true
    }
}

fn malformed(row: &[u8], what: &str) -> Error {
    Error::corruption(format!("<record of row {}>", hex(row)), 0, what.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The column being assembled: where it starts in the row buffer and what its records
/// have decided so far.
struct Pending {
    mark: Mark,
    name_len: usize,
    /// Records older than this seqno are hidden (row or column tombstone).
    floor: SeqNo,
    tombstone_decided: bool,
    last_version: Option<i64>,
    /// Versions counted against the table's max_versions.
    counted: usize,
    /// The read asked for this column (projection and column range).
    wanted: bool,
    /// An unwanted column still makes the row exist when a version of it is alive.
    alive: bool,
    /// Records seen after the column reached the table's max_versions: they cannot matter.
    surplus: usize,
}

/// After this many records a full column cannot use, readers seek past the column instead
/// of stepping (a hot row of a max_versions=1 table holds every overwrite until compaction).
/// Each step to a memtable record is a cache miss, so a seek pays off early: GetRow over
/// rows overwritten ~40 times ran 6% faster at 2 than at 8 (1 was no better than 2).
const SKIP_AFTER_SURPLUS: usize = 2;

/// Assembles one row, from its records given in forward internal-key order, into a
/// `RowBuf` (reused from row to row, so a scan does not allocate per row).
pub struct RowAssembler<'c, 'b> {
    ctx: &'c ReadContext,
    buf: &'b mut RowBuf,
    row_floor: SeqNo,
    head_decided: bool,
    /// Row-head records seen after the newest one decided the head (one per overwrite).
    head_surplus: usize,
    marker_alive: bool,
    visible: bool,
    /// A column left out of the buffer (unwanted, or no version in the read's range) is alive.
    unlisted_alive: bool,
    column: Option<Pending>,
}

impl<'c, 'b> RowAssembler<'c, 'b> {
    /// Starts row `row` in `buf`, discarding what `buf` held.
    pub fn new(ctx: &'c ReadContext, buf: &'b mut RowBuf, row: &[u8]) -> RowAssembler<'c, 'b> {
        buf.reset(row);
        RowAssembler {
            ctx,
            buf,
            row_floor: 0,
            head_decided: false,
            head_surplus: 0,
            marker_alive: false,
            visible: false,
            unlisted_alive: false,
            column: None,
        }
    }

    fn finish_column(&mut self) {
        let Some(col) = self.column.take() else {
            return;
        };
        let ctx = self.ctx;
        if col.wanted {
            let alive = self
                .buf
                .retain_pending(&col.mark, usize::MAX, |v| !ctx.expired(v));
            self.visible |= alive > 0;
            let kept = self
                .buf
                .retain_pending(&col.mark, ctx.read_max_versions(), |v| {
                    ctx.read
                        .time_range
                        .is_none_or(|(start, end)| start <= v && v < end)
                });
            if kept > 0 {
                self.buf.commit_column(&col.mark, col.name_len);
                return;
            }
            self.unlisted_alive |= alive > 0;
        } else {
            self.visible |= col.alive;
            self.unlisted_alive |= col.alive;
        }
        self.buf.rollback(&col.mark);
    }

    /// Makes `escaped` (a column name as cell keys hold it) the pending column.
    fn enter_column(&mut self, row: &[u8], escaped: &[u8]) -> Result<&mut Pending> {
        let same = self.column.is_some() && self.buf.pending_escaped == escaped;
        if !same {
            self.finish_column();
            let mark = self.buf.mark();
            key::unescape_into(escaped, self.buf.bytes_mut())
                .ok_or_else(|| malformed(row, "bad column name"))?;
            let name_len = self.buf.payload_len() - mark.name_start();
            let wanted = self
                .ctx
                .wants_column(self.buf.arena(mark.name_start(), name_len));
            self.buf.pending_escaped.clear();
            self.buf.pending_escaped.extend_from_slice(escaped);
            self.column = Some(Pending {
                mark,
                name_len,
                floor: self.row_floor,
                tombstone_decided: false,
                last_version: None,
                counted: 0,
                wanted,
                alive: false,
                surplus: 0,
            });
        }
        Ok(self.column.as_mut().expect("a pending column was just set"))
    }

    /// Feeds the next record (forward internal-key order, all of this row).
    pub fn push(&mut self, row: &[u8], internal_key: &[u8], value: &[u8]) -> Result<()> {
        let (cell, seqno, kind) = key::split_internal_key(internal_key)
            .ok_or_else(|| malformed(row, "bad internal key"))?;
        if seqno > self.ctx.snapshot {
            return Ok(());
        }
        let (_, body) =
            key::parse_cell_key_raw(cell).ok_or_else(|| malformed(row, "bad cell key"))?;
        match body {
            RawCellBody::RowHead => {
                if self.head_decided {
                    self.head_surplus += 1;
                    return Ok(());
                }
                self.head_decided = true;
                self.row_floor = seqno;
                if kind == Kind::RowExists {
                    let raw: [u8; 8] = value
                        .try_into()
                        .map_err(|_| malformed(row, "row marker value is not 8 bytes"))?;
                    self.marker_alive = !self.ctx.expired(i64::from_le_bytes(raw));
                }
            }
            RawCellBody::ColumnTombstone { column } => {
                let col = self.enter_column(row, column)?;
                if !col.tombstone_decided {
                    col.tombstone_decided = true;
                    col.floor = col.floor.max(seqno);
                }
            }
            RawCellBody::Version { column, version_ms } => {
                let ctx = self.ctx;
                let max = ctx.table_max_versions();
                let col = self.enter_column(row, column)?;
                if col.counted >= max {
                    col.surplus += 1;
                    return Ok(()); // older than the newest max_versions: hidden
                }
                if col.last_version == Some(version_ms) {
                    return Ok(()); // an older record of a version key already decided
                }
                col.last_version = Some(version_ms);
                if seqno < col.floor || kind != Kind::Put {
                    return Ok(());
                }
                col.counted += 1;
                if col.wanted {
                    self.buf.push_cell(version_ms, value);
                } else if !ctx.expired(version_ms) {
                    col.alive = true;
                }
            }
        }
        Ok(())
    }

    /// A seek target past the row head or the pending column once it has fed many records
    /// it cannot use; a forward reader seeks there instead of stepping. Each hint is given
    /// once.
    pub fn take_skip_target(&mut self, row: &[u8]) -> Option<Vec<u8>> {
        if self.head_surplus >= SKIP_AFTER_SURPLUS {
            self.head_surplus = 0;
            return Some(key::first_column_key(row));
        }
        let col = self.column.as_mut()?;
        if col.surplus < SKIP_AFTER_SURPLUS {
            return None;
        }
        col.surplus = 0;
        Some(key::column_end_key(row, &self.buf.pending_escaped))
    }

    /// Finishes the row: true if it exists at this snapshot (its columns are in the buffer).
    pub fn finish(mut self) -> bool {
        self.finish_column();
        self.buf
            .set_exists_unlisted(self.marker_alive || self.unlisted_alive);
        self.visible || self.marker_alive
    }
}

/// The row key of the record under `iter`.
fn current_row(iter: &dyn KvIter) -> Result<&[u8]> {
    let ikey = iter.key();
    let cell = ikey
        .get(..ikey.len().saturating_sub(key::TRAILER_LEN))
        .unwrap_or(&[]);
    key::cell_row(cell).ok_or_else(|| {
        Error::corruption(
            "<merged read>",
            0,
            format!("record key {} has no row", hex(ikey)),
        )
    })
}

/// The seqno of the row head of `row` under `iter` when it is visible at `snapshot`: the
/// newest head of the row in that source, since a head sorts before the row's cells and
/// newer records of a key sort first. `None` when the record is anything else.
pub fn visible_row_head(iter: &dyn KvIter, row: &[u8], snapshot: SeqNo) -> Option<SeqNo> {
    if !iter.valid() {
        return None;
    }
    let (cell, seqno, _) = key::split_internal_key(iter.key())?;
    match key::parse_cell_key_raw(cell)? {
        (r, RawCellBody::RowHead) if r == row && seqno <= snapshot => Some(seqno),
        _ => None,
    }
}

/// Reads one row with a fresh iterator over every source.
pub fn get_row(iter: &mut dyn KvIter, row: &[u8], ctx: &ReadContext) -> Result<Option<Row>> {
    let mut buf = RowBuf::new();
    Ok(get_row_into(iter, row, ctx, &mut buf)?.then(|| buf.to_row()))
}

/// Reads one row into `buf`; true if the row exists.
pub fn get_row_into(
    iter: &mut dyn KvIter,
    row: &[u8],
    ctx: &ReadContext,
    buf: &mut RowBuf,
) -> Result<bool> {
    iter.seek(row)?;
    assemble_row(iter, row, ctx, buf)
}

/// Reads one row into `buf` from `iter`, already positioned at `row`; true if it exists.
pub fn assemble_row(
    iter: &mut dyn KvIter,
    row: &[u8],
    ctx: &ReadContext,
    buf: &mut RowBuf,
) -> Result<bool> {
    let mut asm = RowAssembler::new(ctx, buf, row);
    while iter.valid() {
        if current_row(iter)? != row {
            break;
        }
        asm.push(row, iter.key(), iter.value())?;
        match asm.take_skip_target(row) {
            Some(target) => iter.seek(&target)?,
            None => iter.next()?,
        }
    }
    Ok(asm.finish())
}

/// Walks rows of a range in one direction, assembling each (see `Direction` for bounds).
pub struct RowScanner<I: KvIter> {
    iter: I,
    ctx: ReadContext,
    start: Vec<u8>,
    end: Vec<u8>,
    direction: Direction,
    started: bool,
    done: bool,
    row: Vec<u8>,
    /// The current row, reused from row to row.
    buf: RowBuf,
    // Backward scans: one row's records, collected in reverse then replayed forward.
    keys: Vec<u8>,
    values: Vec<u8>,
    spans: Vec<(usize, usize, usize, usize)>,
}

impl<I: KvIter> RowScanner<I> {
    /// A scanner over `iter` (unpositioned) for rows between `start` and `end`.
    pub fn new(
        iter: I,
        ctx: ReadContext,
        start: &[u8],
        end: &[u8],
        direction: Direction,
    ) -> RowScanner<I> {
        RowScanner {
            iter,
            ctx,
            start: start.to_vec(),
            end: end.to_vec(),
            direction,
            started: false,
            done: false,
            row: Vec::new(),
            buf: RowBuf::new(),
            keys: Vec::new(),
            values: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// The read context (snapshot) of this scan.
    pub fn context(&self) -> &ReadContext {
        &self.ctx
    }

    fn position(&mut self) -> Result<()> {
        self.started = true;
        match self.direction {
            Direction::Forward => self.iter.seek(&self.start),
            Direction::Backward => {
                // Every internal key of row `start` is `start ‖ (0x00|0x01) ‖ ...`, so
                // `start ‖ 0xFF` sorts after all of them.
                let mut target = self.start.clone();
                target.push(0xFF);
                self.iter.seek_for_prev(&target)
            }
        }
    }

    /// The next existing row as an owned `Row`, or `None` at the end of the range.
    pub fn next_row(&mut self) -> Result<Option<Row>> {
        Ok(self.next_row_ref()?.map(RowBuf::to_row))
    }

    /// The next existing row, borrowed until the next call; `None` at the end of the range.
    pub fn next_row_ref(&mut self) -> Result<Option<&RowBuf>> {
        if self.done {
            return Ok(None);
        }
        if !self.started {
            self.position()?;
        }
        loop {
            if !self.iter.valid() {
                self.done = true;
                return Ok(None);
            }
            self.row.clear();
            self.row.extend_from_slice(current_row(&self.iter)?);
            let row = std::mem::take(&mut self.row);
            let result = match self.direction {
                Direction::Forward => self.forward_row(&row),
                Direction::Backward => self.backward_row(&row),
            };
            self.row = row;
            match result {
                Ok(Step::End) => {
                    self.done = true;
                    return Ok(None);
                }
                Ok(Step::Skip) => continue,
                Ok(Step::Row) => return Ok(Some(&self.buf)),
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            }
        }
    }

    fn forward_row(&mut self, row: &[u8]) -> Result<Step> {
        if row >= self.end.as_slice() {
            return Ok(Step::End);
        }
        if row < self.start.as_slice() {
            while self.iter.valid() && current_row(&self.iter)? == row {
                self.iter.next()?;
            }
            return Ok(Step::Skip);
        }
        let mut asm = RowAssembler::new(&self.ctx, &mut self.buf, row);
        while self.iter.valid() && current_row(&self.iter)? == row {
            asm.push(row, self.iter.key(), self.iter.value())?;
            match asm.take_skip_target(row) {
                Some(target) => self.iter.seek(&target)?,
                None => self.iter.next()?,
            }
        }
        Ok(if asm.finish() { Step::Row } else { Step::Skip })
    }

    fn backward_row(&mut self, row: &[u8]) -> Result<Step> {
        if row <= self.end.as_slice() {
            return Ok(Step::End);
        }
        let in_range = row <= self.start.as_slice();
        self.keys.clear();
        self.values.clear();
        self.spans.clear();
        while self.iter.valid() && current_row(&self.iter)? == row {
            if in_range {
                let (k0, v0) = (self.keys.len(), self.values.len());
                self.keys.extend_from_slice(self.iter.key());
                self.values.extend_from_slice(self.iter.value());
                self.spans
                    .push((k0, self.keys.len(), v0, self.values.len()));
            }
            self.iter.prev()?;
        }
        if !in_range {
            return Ok(Step::Skip);
        }
        let mut asm = RowAssembler::new(&self.ctx, &mut self.buf, row);
        for &(k0, k1, v0, v1) in self.spans.iter().rev() {
            asm.push(row, &self.keys[k0..k1], &self.values[v0..v1])?;
        }
        Ok(if asm.finish() { Step::Row } else { Step::Skip })
    }
}

enum Step {
    End,
    Skip,
    /// The row is in the scanner's buffer.
    Row,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::batch::{BatchRecords, WriteBatch};
    use crate::engine::memtable::Memtable;
    use std::sync::Arc;

    /// A memtable filled batch by batch; each batch's seqnos follow the previous one's.
    struct Fixture {
        mem: Arc<Memtable>,
        next_seqno: SeqNo,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                mem: Arc::new(Memtable::new(1)),
                next_seqno: 1,
            }
        }
        /// Applies a batch; returns its last seqno.
        fn write(&mut self, f: impl FnOnce(&mut WriteBatch)) -> SeqNo {
            let mut b = WriteBatch::new();
            f(&mut b);
            let mut buf = Vec::new();
            b.encode_into(self.next_seqno, 1_000, &mut buf);
            self.mem.apply(&BatchRecords::parse(&buf).unwrap());
            self.next_seqno += b.len() as u64;
            self.next_seqno - 1
        }
        fn get_with(&self, row: &[u8], ctx: &ReadContext) -> Option<Row> {
            get_row(&mut self.mem.iter(), row, ctx).unwrap()
        }
        fn ctx(&self) -> ReadContext {
            ReadContext {
                snapshot: self.next_seqno - 1,
                now_ms: 10_000,
                data: DataOptions {
                    ttl_secs: None,
                    max_versions: 100,
                },
                read: ReadOptions::default(),
            }
        }
        fn get(&self, row: &[u8]) -> Option<Row> {
            self.get_with(row, &self.ctx())
        }
    }

    fn cells(row: &Option<Row>) -> Vec<(String, i64, Vec<u8>)> {
        row.iter()
            .flat_map(|r| r.columns.iter())
            .flat_map(|c| {
                c.cells.iter().map(move |cell| {
                    (
                        String::from_utf8_lossy(&c.name).into_owned(),
                        cell.version_ms,
                        cell.value.clone(),
                    )
                })
            })
            .collect()
    }

    fn c(name: &str, v: i64, value: &[u8]) -> (String, i64, Vec<u8>) {
        (name.to_string(), v, value.to_vec())
    }

    #[test]
    fn snapshot_hides_newer_records() {
        let mut f = Fixture::new();
        let s1 = f.write(|b| b.put(b"r", b"a", Some(1), b"x"));
        f.write(|b| b.put(b"r", b"a", Some(2), b"y"));
        let mut ctx = f.ctx();
        ctx.snapshot = s1;
        assert_eq!(cells(&f.get_with(b"r", &ctx)), vec![c("a", 1, b"x")]);
        ctx.snapshot = 0;
        assert_eq!(f.get_with(b"r", &ctx), None);
        assert_eq!(cells(&f.get(b"r")), vec![c("a", 2, b"y"), c("a", 1, b"x")]);
    }

    #[test]
    fn row_tombstone_hides_older_records_only() {
        let mut f = Fixture::new();
        f.write(|b| {
            b.put(b"r", b"a", Some(1), b"old");
            b.put(b"r", b"b", Some(1), b"old");
        });
        f.write(|b| b.delete_row(b"r"));
        assert_eq!(f.get(b"r"), None);
        f.write(|b| b.put(b"r", b"a", Some(1), b"new"));
        assert_eq!(cells(&f.get(b"r")), vec![c("a", 1, b"new")]);
        // Put then DeleteRow in one batch: the delete has the larger seqno and wins.
        f.write(|b| {
            b.put(b"r", b"z", Some(5), b"gone");
            b.delete_row(b"r");
        });
        assert_eq!(f.get(b"r"), None);
    }

    #[test]
    fn row_marker_makes_an_empty_row_exist_and_replaces_the_row() {
        let mut f = Fixture::new();
        f.write(|b| b.put(b"r", b"a", Some(1), b"x"));
        f.write(|b| {
            b.put_row_marker(b"r", Some(5));
            b.put(b"r", b"b", Some(5), b"y");
        });
        assert_eq!(cells(&f.get(b"r")), vec![c("b", 5, b"y")]);
        // The marker keeps the row apart from its one column: deleting `b` would leave it.
        assert!(f.get(b"r").unwrap().exists_unlisted);
        f.write(|b| b.put(b"s", b"a", Some(1), b"x"));
        assert!(
            !f.get(b"s").unwrap().exists_unlisted,
            "only its listed column"
        );
        f.write(|b| b.put_row_marker(b"e", None));
        assert_eq!(
            f.get(b"e"),
            Some(Row {
                key: b"e".to_vec(),
                columns: vec![],
                exists_unlisted: true,
            })
        );
        f.write(|b| b.delete_row(b"e"));
        assert_eq!(f.get(b"e"), None);
    }

    #[test]
    fn column_tombstone_hides_only_its_column_and_older_versions() {
        let mut f = Fixture::new();
        f.write(|b| {
            b.put(b"r", b"a", Some(1), b"x");
            b.put(b"r", b"a", Some(9), b"x9");
            b.put(b"r", b"b", Some(1), b"y");
        });
        f.write(|b| b.delete_column(b"r", b"a"));
        assert_eq!(cells(&f.get(b"r")), vec![c("b", 1, b"y")]);
        f.write(|b| b.put(b"r", b"a", Some(2), b"z"));
        assert_eq!(cells(&f.get(b"r")), vec![c("a", 2, b"z"), c("b", 1, b"y")]);
        f.write(|b| b.delete_column(b"r", b"b"));
        f.write(|b| b.delete_column(b"r", b"a"));
        assert_eq!(
            f.get(b"r"),
            None,
            "a row with every column deleted does not exist"
        );
    }

    #[test]
    fn delete_version_hides_exactly_one_version_until_rewritten() {
        let mut f = Fixture::new();
        f.write(|b| {
            b.put(b"r", b"a", Some(1), b"one");
            b.put(b"r", b"a", Some(2), b"two");
        });
        f.write(|b| b.delete_version(b"r", b"a", 2));
        assert_eq!(cells(&f.get(b"r")), vec![c("a", 1, b"one")]);
        f.write(|b| b.put(b"r", b"a", Some(2), b"again"));
        assert_eq!(
            cells(&f.get(b"r")),
            vec![c("a", 2, b"again"), c("a", 1, b"one")]
        );
        f.write(|b| b.delete_version(b"r", b"a", 7)); // deleting a missing version is harmless
        assert_eq!(cells(&f.get(b"r")).len(), 2);
    }

    #[test]
    fn ttl_expires_versions_and_row_markers_by_the_current_clock() {
        let mut f = Fixture::new();
        f.write(|b| {
            b.put(b"r", b"a", Some(5_000), b"fresh");
            b.put(b"r", b"a", Some(1_000), b"stale");
        });
        f.write(|b| b.put_row_marker(b"m", Some(1_000)));
        let mut ctx = f.ctx();
        ctx.data.ttl_secs = Some(5);
        ctx.now_ms = 7_000; // 1_000 + 5_000 < 7_000: expired; 5_000 + 5_000 >= 7_000: live
        assert_eq!(
            cells(&f.get_with(b"r", &ctx)),
            vec![c("a", 5_000, b"fresh")]
        );
        assert_eq!(f.get_with(b"m", &ctx), None);
        ctx.now_ms = 6_000; // boundary: 1_000 + 5_000 == now is not expired
        assert_eq!(cells(&f.get_with(b"r", &ctx)).len(), 2);
        assert!(f.get_with(b"m", &ctx).is_some());
        ctx.now_ms = 20_000;
        assert_eq!(f.get_with(b"r", &ctx), None);
    }

    #[test]
    fn table_and_read_max_versions_keep_the_newest() {
        let mut f = Fixture::new();
        f.write(|b| {
            for v in 1..=5 {
                b.put(b"r", b"a", Some(v), &[v as u8]);
            }
        });
        f.write(|b| b.delete_version(b"r", b"a", 4));
        let mut ctx = f.ctx();
        ctx.data.max_versions = 2;
        // Deleted versions do not count against max_versions.
        assert_eq!(
            cells(&f.get_with(b"r", &ctx)),
            vec![c("a", 5, &[5]), c("a", 3, &[3])]
        );
        ctx.read.max_versions = 1;
        assert_eq!(cells(&f.get_with(b"r", &ctx)), vec![c("a", 5, &[5])]);
        ctx.read.max_versions = 10; // capped by the table's
        assert_eq!(cells(&f.get_with(b"r", &ctx)).len(), 2);
    }

    #[test]
    fn reads_seek_past_a_full_column_and_still_see_the_next_column_and_row() {
        let mut f = Fixture::new();
        let k = |r: u8| vec![0x02, r];
        for r in [1u8, 2] {
            for v in 1..=40i64 {
                f.write(|b| b.put(&k(r), b"a", Some(v), &[v as u8]));
            }
            // A column name holding 0x00 checks the seek target's escaping.
            f.write(|b| b.put(&k(r), b"a\0z", Some(7), b"next"));
            f.write(|b| b.put(&k(r), b"b", Some(1), b"last"));
        }
        let mut ctx = f.ctx();
        ctx.data.max_versions = 3;
        let want = vec![
            c("a", 40, &[40]),
            c("a", 39, &[39]),
            c("a", 38, &[38]),
            c("a\0z", 7, b"next"),
            c("b", 1, b"last"),
        ];
        assert_eq!(cells(&f.get_with(&k(1), &ctx)), want);
        let mut s = RowScanner::new(f.mem.iter(), ctx.clone(), &k(0), &k(9), Direction::Forward);
        for r in [1u8, 2] {
            let row = s.next_row().unwrap().unwrap();
            assert_eq!((row.key.clone(), cells(&Some(row))), (k(r), want.clone()));
        }
        assert!(s.next_row().unwrap().is_none());
        // A time range before the newest versions finds nothing older: they are beyond
        // max_versions, skipped or not.
        ctx.read.time_range = Some((1, 30));
        assert_eq!(
            cells(&f.get_with(&k(1), &ctx)),
            vec![c("a\0z", 7, b"next"), c("b", 1, b"last")]
        );
    }

    /// Counts the records a reader steps over one by one.
    struct CountingIter<I> {
        inner: I,
        steps: usize,
    }

    impl<I: KvIter> KvIter for CountingIter<I> {
        fn valid(&self) -> bool {
            self.inner.valid()
        }
        fn key(&self) -> &[u8] {
            self.inner.key()
        }
        fn value(&self) -> &[u8] {
            self.inner.value()
        }
        fn seek(&mut self, target: &[u8]) -> Result<()> {
            self.inner.seek(target)
        }
        fn seek_to_first(&mut self) -> Result<()> {
            self.inner.seek_to_first()
        }
        fn next(&mut self) -> Result<()> {
            self.steps += 1;
            self.inner.next()
        }
        fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
            self.inner.seek_for_prev(target)
        }
        fn seek_to_last(&mut self) -> Result<()> {
            self.inner.seek_to_last()
        }
        fn prev(&mut self) -> Result<()> {
            self.steps += 1;
            self.inner.prev()
        }
    }

    #[test]
    fn reads_seek_past_many_row_heads_of_an_overwritten_row() {
        let mut f = Fixture::new();
        let k = |r: u8| vec![0x02, r];
        for (r, v) in [1u8, 2]
            .into_iter()
            .flat_map(|r| (1..=30i64).map(move |v| (r, v)))
        {
            f.write(|b| {
                b.put_row_marker(&k(r), Some(v));
                b.put(&k(r), b"a", Some(v), &[r, v as u8]);
            });
        }
        let mut ctx = f.ctx();
        ctx.data.max_versions = 1;
        let want = |r: u8| vec![c("a", 30, &[r, 30])];
        assert_eq!(cells(&f.get_with(&k(1), &ctx)), want(1));
        let mut s = RowScanner::new(f.mem.iter(), ctx.clone(), &k(0), &k(9), Direction::Forward);
        for r in [1u8, 2] {
            let row = s.next_row().unwrap().unwrap();
            assert_eq!((row.key.clone(), cells(&Some(row))), (k(r), want(r)));
        }
        assert!(s.next_row().unwrap().is_none());
        // The point read stepped over a few surplus heads, then sought past the rest.
        let mut counting = CountingIter {
            inner: f.mem.iter(),
            steps: 0,
        };
        get_row(&mut counting, &k(1), &ctx).unwrap().unwrap();
        assert!(
            counting.steps < 2 * SKIP_AFTER_SURPLUS + 4,
            "{}",
            counting.steps
        );
        // An older snapshot still finds the row as it was then.
        ctx.snapshot = 20;
        assert_eq!(cells(&f.get_with(&k(1), &ctx)), vec![c("a", 10, &[1, 10])]);
    }

    #[test]
    fn time_range_is_half_open_and_applies_before_read_max_versions() {
        let mut f = Fixture::new();
        f.write(|b| {
            for v in 1..=5 {
                b.put(b"r", b"a", Some(v), &[v as u8]);
            }
        });
        let mut ctx = f.ctx();
        ctx.read.time_range = Some((2, 5));
        assert_eq!(
            cells(&f.get_with(b"r", &ctx)),
            vec![c("a", 4, &[4]), c("a", 3, &[3]), c("a", 2, &[2])]
        );
        ctx.read.max_versions = 1;
        assert_eq!(cells(&f.get_with(b"r", &ctx)), vec![c("a", 4, &[4])]);
        ctx.read.time_range = Some((10, 20));
        assert_eq!(
            f.get_with(b"r", &ctx),
            Some(Row {
                key: b"r".to_vec(),
                columns: vec![],
                exists_unlisted: true,
            })
        );
    }

    #[test]
    fn projection_and_column_range_filter_but_do_not_decide_existence() {
        let mut f = Fixture::new();
        f.write(|b| {
            for col in [&b"a"[..], b"b", b"c", b"d"] {
                b.put(b"r", col, Some(1), col);
            }
        });
        let mut ctx = f.ctx();
        ctx.read.columns = Some(vec![b"d".to_vec(), b"b".to_vec(), b"zz".to_vec()]);
        assert_eq!(
            cells(&f.get_with(b"r", &ctx)),
            vec![c("b", 1, b"b"), c("d", 1, b"d")]
        );
        ctx.read.columns = Some(vec![b"missing".to_vec()]);
        assert_eq!(
            f.get_with(b"r", &ctx),
            Some(Row {
                key: b"r".to_vec(),
                columns: vec![],
                exists_unlisted: true,
            })
        );
        ctx.read.columns = None;
        ctx.read.start_column = Some(b"b".to_vec());
        ctx.read.end_column = Some(b"d".to_vec());
        assert_eq!(
            cells(&f.get_with(b"r", &ctx)),
            vec![c("b", 1, b"b"), c("c", 1, b"c")]
        );
        assert_eq!(f.get_with(b"nope", &ctx), None);
    }

    fn scan_keys(f: &Fixture, start: &[u8], end: &[u8], dir: Direction) -> Vec<Vec<u8>> {
        let mut s = RowScanner::new(f.mem.iter(), f.ctx(), start, end, dir);
        let mut out = Vec::new();
        while let Some(r) = s.next_row().unwrap() {
            out.push(r.key);
        }
        out
    }

    #[test]
    fn scans_respect_bounds_in_both_directions_and_skip_missing_rows() {
        let mut f = Fixture::new();
        for r in [1u8, 2, 3, 4, 5] {
            f.write(|b| {
                b.put(&[0x02, r], b"a", Some(1), b"x");
                b.put(&[0x02, r], b"b", Some(2), b"y");
            });
        }
        f.write(|b| b.delete_row(&[0x02, 3]));
        let k = |r: u8| vec![0x02, r];
        assert_eq!(
            scan_keys(&f, &k(2), &k(5), Direction::Forward),
            vec![k(2), k(4)]
        );
        assert_eq!(
            scan_keys(&f, &k(5), &k(1), Direction::Backward),
            vec![k(5), k(4), k(2)]
        );
        assert_eq!(
            scan_keys(&f, &[0x00], &[0xFF], Direction::Forward),
            vec![k(1), k(2), k(4), k(5)]
        );
        assert_eq!(
            scan_keys(&f, &[0xFF], &[0x00], Direction::Backward),
            vec![k(5), k(4), k(2), k(1)]
        );
        assert!(scan_keys(&f, &k(4), &k(4), Direction::Forward).is_empty());
        // Backward rows are assembled forward: newest version first, columns ascending.
        let mut s = RowScanner::new(f.mem.iter(), f.ctx(), &k(1), &[0x00], Direction::Backward);
        let row = s.next_row().unwrap().unwrap();
        assert_eq!(cells(&Some(row)), vec![c("a", 1, b"x"), c("b", 2, b"y")]);
    }
}
