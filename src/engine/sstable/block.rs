//! Data/index block codec: `BlockBuilder` writes prefix-compressed entries with restart points,
//! `BlockIter` walks and seeks them. Works on one block's payload (no crc); `reader`/`iter`
//! verify the crc and turn a `Corrupt` into `Error::Corruption` with the file offset.

use super::coding::{put_varint, take_bytes, take_varint32, u32_at, Corrupt, DecodeResult};

/// Builds one block payload. Keys must be added in strictly ascending order (the caller checks).
pub(crate) struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    since_restart: usize,
    last_key: Vec<u8>,
    entries: usize,
}

impl BlockBuilder {
    /// An empty block with a restart point every `restart_interval` keys (at least 1).
    pub(crate) fn new(restart_interval: usize) -> BlockBuilder {
        BlockBuilder {
            buf: Vec::new(),
            restarts: Vec::new(),
            restart_interval: restart_interval.max(1),
            since_restart: 0,
            last_key: Vec::new(),
            entries: 0,
        }
    }

    /// Appends one entry. Panics never; the caller guarantees `key > last key` and that
    /// key and value lengths fit u32 (checked in `SstBuilder::add`).
    pub(crate) fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.since_restart == self.restart_interval || self.entries == 0 {
            self.restarts.push(self.buf.len() as u32);
            self.since_restart = 0;
            0
        } else {
            self.last_key
                .iter()
                .zip(key)
                .take_while(|(a, b)| a == b)
                .count()
        };
        let unshared = &key[shared..];
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, unshared.len() as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(unshared);
        self.buf.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(unshared);
        self.since_restart += 1;
        self.entries += 1;
    }

    /// Size of the payload `finish` would produce now.
    pub(crate) fn size_estimate(&self) -> usize {
        self.buf.len() + self.restarts.len() * 4 + 4
    }

    /// True when no entry was added since the last `finish`.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Appends the restart array and returns the payload; the builder is then empty again.
    /// The returned buffer is borrowed until the next `add`.
    pub(crate) fn finish(&mut self) -> &[u8] {
        for r in &self.restarts {
            self.buf.extend_from_slice(&r.to_le_bytes());
        }
        self.buf
            .extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.restarts.clear();
        self.since_restart = 0;
        self.entries = 0;
        &self.buf
    }

    /// Clears the payload returned by `finish` so the builder can be reused.
    pub(crate) fn reset(&mut self) {
        self.buf.clear();
        self.restarts.clear();
        self.since_restart = 0;
        self.last_key.clear();
        self.entries = 0;
    }
}

/// A cursor over one block payload `B` (a byte slice, a vec, or a window of an mmap).
///
/// Positions are byte offsets into the entry region; `cur == data_end` means "not positioned".
/// The current key lives in a reused buffer, so walking a block allocates nothing once the
/// buffer has grown to the longest key.
pub(crate) struct BlockIter<B> {
    data: B,
    /// End of the entry region = start of the restart array.
    data_end: usize,
    num_restarts: usize,
    cur: usize,
    next: usize,
    key: Vec<u8>,
    value_start: usize,
    value_len: usize,
    /// Entries decoded by the last backward re-scan, oldest first, so that successive `prev`
    /// calls within one restart run cost O(1) instead of a re-scan each.
    prev_entries: Vec<CachedEntry>,
    /// Keys of `prev_entries`, concatenated.
    prev_keys: Vec<u8>,
}

/// Position of an entry remembered by a backward re-scan.
#[derive(Debug, Clone, Copy)]
struct CachedEntry {
    cur: usize,
    next: usize,
    key_end: usize,
    value_start: usize,
    value_len: usize,
}

impl<B: AsRef<[u8]>> BlockIter<B> {
    /// Opens a block payload, checking that its restart array fits.
    pub(crate) fn new(data: B) -> DecodeResult<BlockIter<B>> {
        let mut it = BlockIter {
            data,
            data_end: 0,
            num_restarts: 0,
            cur: 0,
            next: 0,
            key: Vec::new(),
            value_start: 0,
            value_len: 0,
            prev_entries: Vec::new(),
            prev_keys: Vec::new(),
        };
        it.parse_trailer()?;
        Ok(it)
    }

    /// Switches to another block payload, keeping the key buffer's allocation. On error the
    /// iterator is left empty and invalid.
    pub(crate) fn reset(&mut self, data: B) -> DecodeResult<()> {
        self.data = data;
        self.parse_trailer()
    }

    fn parse_trailer(&mut self) -> DecodeResult<()> {
        self.data_end = 0;
        self.num_restarts = 0;
        self.cur = 0;
        self.next = 0;
        self.key.clear();
        self.prev_entries.clear();
        self.prev_keys.clear();
        let data = self.data.as_ref();
        let len = data.len();
        let count_at = len
            .checked_sub(4)
            .ok_or_else(|| Corrupt::new(0, format!("block of {len} bytes has no restart count")))?;
        let num_restarts = u32_at(data, count_at, "restart count")? as usize;
        let restarts_at = num_restarts
            .checked_mul(4)
            .and_then(|n| count_at.checked_sub(n))
            .ok_or_else(|| {
                Corrupt::new(
                    count_at,
                    format!("{num_restarts} restart points do not fit a {len}-byte block"),
                )
            })?;
        if num_restarts == 0 && restarts_at != 0 {
            return Err(Corrupt::new(
                count_at,
                "non-empty block without restart points",
            ));
        }
        if num_restarts > 0 && u32_at(data, restarts_at, "first restart point")? != 0 {
            return Err(Corrupt::new(restarts_at, "first restart point is not 0"));
        }
        self.data_end = restarts_at;
        self.num_restarts = num_restarts;
        self.cur = restarts_at;
        self.next = restarts_at;
        Ok(())
    }

    /// The payload this iterator walks.
    pub(crate) fn data(&self) -> &B {
        &self.data
    }

    /// True while positioned on an entry.
    #[inline]
    pub(crate) fn valid(&self) -> bool {
        self.cur < self.data_end
    }

    /// The current key (only while valid).
    #[inline]
    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }

    /// The current value (only while valid; empty otherwise).
    #[inline]
    pub(crate) fn value(&self) -> &[u8] {
        let end = self.value_start + self.value_len;
        self.data.as_ref().get(self.value_start..end).unwrap_or(&[])
    }

    fn invalidate(&mut self) {
        self.cur = self.data_end;
        self.next = self.data_end;
        self.key.clear();
    }

    fn restart_point(&self, index: usize) -> DecodeResult<usize> {
        let at = self.data_end + index * 4;
        let r = u32_at(self.data.as_ref(), at, "restart point")? as usize;
        if r >= self.data_end {
            return Err(Corrupt::new(
                at,
                format!(
                    "restart point {r} outside the entries (end {})",
                    self.data_end
                ),
            ));
        }
        Ok(r)
    }

    /// The full key stored at a restart point, borrowed from the block.
    fn restart_key(&self, index: usize) -> DecodeResult<&[u8]> {
        let at = self.restart_point(index)?;
        let data = &self.data.as_ref()[..self.data_end];
        let mut pos = at;
        let shared = take_varint32(data, &mut pos, "shared key length")?;
        if shared != 0 {
            return Err(Corrupt::new(at, "entry at a restart point shares a prefix"));
        }
        let unshared = take_varint32(data, &mut pos, "unshared key length")? as usize;
        let _value_len = take_varint32(data, &mut pos, "value length")?;
        take_bytes(data, &mut pos, unshared, "key bytes")
    }

    /// Decodes the entry at `at` on top of the current key buffer and positions on it.
    #[inline]
    fn decode_at(&mut self, at: usize) -> DecodeResult<()> {
        let data = &self.data.as_ref()[..self.data_end];
        let mut pos = at;
        let (shared, unshared, value_len) = match data.get(at..at.saturating_add(3)) {
            // Fast path: all three lengths below 128, one byte each.
            Some(&[s, u, v]) if (s | u | v) < 0x80 => {
                pos += 3;
                (s as usize, u as usize, v as usize)
            }
            _ => (
                take_varint32(data, &mut pos, "shared key length")? as usize,
                take_varint32(data, &mut pos, "unshared key length")? as usize,
                take_varint32(data, &mut pos, "value length")? as usize,
            ),
        };
        if shared > self.key.len() {
            return Err(Corrupt::new(
                at,
                format!(
                    "entry shares {shared} bytes of a {}-byte previous key",
                    self.key.len()
                ),
            ));
        }
        let delta = take_bytes(data, &mut pos, unshared, "key bytes")?;
        let value_start = pos;
        take_bytes(data, &mut pos, value_len, "value bytes")?;
        self.key.truncate(shared);
        self.key.extend_from_slice(delta);
        self.value_start = value_start;
        self.value_len = value_len;
        self.cur = at;
        self.next = pos;
        Ok(())
    }

    /// Positions on the entry at restart point `index`.
    fn seek_to_restart(&mut self, index: usize) -> DecodeResult<()> {
        let at = self.restart_point(index)?;
        self.key.clear();
        self.decode_at(at)
    }

    /// Moves to the next entry; invalid past the end.
    pub(crate) fn next(&mut self) -> DecodeResult<()> {
        if self.next >= self.data_end {
            self.invalidate();
            return Ok(());
        }
        let at = self.next;
        self.decode_at(at).inspect_err(|_| self.invalidate())
    }

    /// Positions on the first entry (invalid if the block is empty).
    pub(crate) fn seek_to_first(&mut self) -> DecodeResult<()> {
        if self.num_restarts == 0 {
            self.invalidate();
            return Ok(());
        }
        self.seek_to_restart(0).inspect_err(|_| self.invalidate())
    }

    /// Positions on the last entry (invalid if the block is empty).
    pub(crate) fn seek_to_last(&mut self) -> DecodeResult<()> {
        if self.num_restarts == 0 {
            self.invalidate();
            return Ok(());
        }
        let r = self.seek_to_last_inner();
        r.inspect_err(|_| self.invalidate())
    }

    fn seek_to_last_inner(&mut self) -> DecodeResult<()> {
        self.seek_to_restart(self.num_restarts - 1)?;
        while self.next < self.data_end {
            let at = self.next;
            self.decode_at(at)?;
        }
        Ok(())
    }

    /// Positions on the first entry with key >= `target`; invalid if there is none.
    pub(crate) fn seek(&mut self, target: &[u8]) -> DecodeResult<()> {
        let r = self.seek_inner(target);
        r.inspect_err(|_| self.invalidate())
    }

    fn seek_inner(&mut self, target: &[u8]) -> DecodeResult<()> {
        if self.num_restarts == 0 {
            self.invalidate();
            return Ok(());
        }
        // Last restart point whose key is < target (or 0): the answer lies after it.
        let (mut lo, mut hi) = (0usize, self.num_restarts - 1);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if self.restart_key(mid)? < target {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        self.seek_to_restart(lo)?;
        loop {
            if self.key.as_slice() >= target {
                return Ok(());
            }
            if self.next >= self.data_end {
                self.invalidate();
                return Ok(());
            }
            let at = self.next;
            self.decode_at(at)?;
        }
    }

    /// Positions on the last entry with key <= `target`; invalid if there is none.
    pub(crate) fn seek_for_prev(&mut self, target: &[u8]) -> DecodeResult<()> {
        self.seek(target)?;
        if !self.valid() {
            return self.seek_to_last();
        }
        if self.key.as_slice() > target {
            return self.prev();
        }
        Ok(())
    }

    /// Moves to the previous entry by re-scanning from the restart point before it;
    /// invalid before the first entry.
    pub(crate) fn prev(&mut self) -> DecodeResult<()> {
        let r = self.prev_inner();
        r.inspect_err(|_| self.invalidate())
    }

    fn prev_inner(&mut self) -> DecodeResult<()> {
        let target = self.cur;
        if target == 0 || target >= self.data_end {
            self.invalidate();
            return Ok(());
        }
        if let Some(top) = self.prev_entries.last().copied() {
            if top.next == target {
                self.prev_entries.pop();
                let key_start = self.prev_entries.last().map_or(0, |e| e.key_end);
                self.key.clear();
                self.key.extend_from_slice(
                    self.prev_keys
                        .get(key_start..top.key_end)
                        .unwrap_or_default(),
                );
                self.prev_keys.truncate(key_start);
                self.cur = top.cur;
                self.next = top.next;
                self.value_start = top.value_start;
                self.value_len = top.value_len;
                return Ok(());
            }
        }
        // Re-scan from the last restart point strictly before the current entry,
        // remembering every entry but the last for the following `prev` calls.
        self.prev_entries.clear();
        self.prev_keys.clear();
        let (mut lo, mut hi) = (0usize, self.num_restarts - 1);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if self.restart_point(mid)? < target {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        self.seek_to_restart(lo)?;
        while self.next < target {
            self.prev_keys.extend_from_slice(&self.key);
            self.prev_entries.push(CachedEntry {
                cur: self.cur,
                next: self.next,
                key_end: self.prev_keys.len(),
                value_start: self.value_start,
                value_len: self.value_len,
            });
            let at = self.next;
            self.decode_at(at)?;
        }
        if self.next != target {
            self.prev_entries.clear();
            self.prev_keys.clear();
            return Err(Corrupt::new(
                self.cur,
                "entries do not line up with the previous position",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(entries: &[(Vec<u8>, Vec<u8>)], interval: usize) -> Vec<u8> {
        let mut b = BlockBuilder::new(interval);
        for (k, v) in entries {
            b.add(k, v);
        }
        b.finish().to_vec()
    }

    fn sample(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| {
                let mut k = vec![b'p'; 300]; // long shared prefix
                k.extend_from_slice(format!("{:06}", i * 2).as_bytes());
                let v = if i % 3 == 0 {
                    Vec::new()
                } else {
                    vec![i as u8; i % 17]
                };
                (k, v)
            })
            .collect()
    }

    fn collect_forward(it: &mut BlockIter<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        it.seek_to_first().unwrap();
        while it.valid() {
            out.push((it.key().to_vec(), it.value().to_vec()));
            it.next().unwrap();
        }
        out
    }

    #[test]
    fn block_round_trips_forward_and_backward_with_empty_values_and_long_prefixes() {
        for interval in [1, 2, 16, 1000] {
            let input = sample(100);
            let mut it = BlockIter::new(build(&input, interval)).unwrap();
            assert_eq!(collect_forward(&mut it), input);
            let mut back = Vec::new();
            it.seek_to_last().unwrap();
            while it.valid() {
                back.push((it.key().to_vec(), it.value().to_vec()));
                it.prev().unwrap();
            }
            back.reverse();
            assert_eq!(back, input);
        }
    }

    #[test]
    fn prefix_compression_shrinks_shared_keys() {
        let input = sample(100);
        let raw: usize = input.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(build(&input, 16).len() < raw / 4);
    }

    #[test]
    fn seek_and_seek_for_prev_hit_exact_between_before_and_after() {
        let input = sample(50);
        let mut it = BlockIter::new(build(&input, 4)).unwrap();
        for (i, (k, _)) in input.iter().enumerate() {
            it.seek(k).unwrap();
            assert_eq!(it.key(), k.as_slice());
            it.seek_for_prev(k).unwrap();
            assert_eq!(it.key(), k.as_slice());
            // Between k and the next key: "k" + 0x00 sorts after k, before the next.
            let mut between = k.clone();
            between.push(0);
            it.seek(&between).unwrap();
            match input.get(i + 1) {
                Some((next, _)) => assert_eq!(it.key(), next.as_slice()),
                None => assert!(!it.valid()),
            }
            it.seek_for_prev(&between).unwrap();
            assert_eq!(it.key(), k.as_slice());
        }
        it.seek(b"a").unwrap();
        assert_eq!(it.key(), input[0].0.as_slice());
        it.seek_for_prev(b"a").unwrap();
        assert!(!it.valid());
        it.seek(b"z").unwrap();
        assert!(!it.valid());
        it.seek_for_prev(b"z").unwrap();
        assert_eq!(it.key(), input[49].0.as_slice());
    }

    #[test]
    fn empty_block_is_never_valid() {
        let mut b = BlockBuilder::new(16);
        let mut it = BlockIter::new(b.finish().to_vec()).unwrap();
        it.seek_to_first().unwrap();
        assert!(!it.valid());
        it.seek_to_last().unwrap();
        assert!(!it.valid());
        it.seek(b"x").unwrap();
        assert!(!it.valid());
        it.seek_for_prev(b"x").unwrap();
        assert!(!it.valid());
    }

    #[test]
    fn damaged_blocks_give_errors_never_panics() {
        let input = sample(20);
        let good = build(&input, 4);
        assert!(BlockIter::new(Vec::new()).is_err());
        assert!(BlockIter::new(vec![0xFF; 8]).is_err());
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                let Ok(mut it) = BlockIter::new(bad) else {
                    continue;
                };
                let mut steps = 0;
                if it.seek_to_first().is_ok() {
                    while it.valid() && it.next().is_ok() {
                        steps += 1;
                        assert!(steps <= 1000);
                    }
                }
                if it.seek_to_last().is_ok() {
                    while it.valid() && it.prev().is_ok() {
                        steps += 1;
                        assert!(steps <= 2000);
                    }
                }
                let _ = it.seek(&input[7].0);
                let _ = it.seek_for_prev(&input[7].0);
            }
        }
        // Truncations of the payload.
        for len in 0..good.len() {
            if let Ok(mut it) = BlockIter::new(good[..len].to_vec()) {
                let _ = it.seek_to_first();
                let _ = it.seek_to_last();
            }
        }
    }
}
