//! The per-table bloom filter over row keys: built once from row-key hashes, probed by point
//! reads. The hash function and probe sequence are part of the on-disk format: never change
//! them without bumping `FORMAT_VERSION`.

use super::coding::Corrupt;

/// Hash of a row key for the filter (a 64-bit multiply-xorshift hash with a murmur3 finalizer).
pub(crate) fn row_hash(data: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = 0x243F_6A88_85A3_08D3 ^ (data.len() as u64).wrapping_mul(K);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(raw)).wrapping_mul(K);
        h ^= h >> 29;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut raw = [0u8; 8];
        raw[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(raw)).wrapping_mul(K);
        h ^= h >> 29;
    }
    // murmur3 fmix64: every input bit affects every output bit.
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// Probes: double hashing `h1 + i*h2` over the bit array (Kirsch-Mitzenmacher).
#[inline]
fn probes(hash: u64) -> (u64, u64) {
    (hash, hash.rotate_left(32) | 1)
}

/// Builds the filter payload `bits ‖ k: u8` from row-key hashes.
pub(crate) fn build_filter(hashes: &[u64], bits_per_key: usize) -> Vec<u8> {
    let bits_per_key = bits_per_key.max(1);
    // k = bits_per_key * ln 2 minimises the false-positive rate.
    let k = ((bits_per_key as f64 * std::f64::consts::LN_2).round() as u8).clamp(1, 30);
    let bits = (hashes.len() * bits_per_key).max(64);
    let bytes = bits.div_ceil(8);
    let nbits = (bytes * 8) as u64;
    let mut out = vec![0u8; bytes + 1];
    for &h in hashes {
        let (mut pos, delta) = probes(h);
        for _ in 0..k {
            let bit = (pos % nbits) as usize;
            out[bit / 8] |= 1 << (bit % 8);
            pos = pos.wrapping_add(delta);
        }
    }
    out[bytes] = k;
    out
}

/// A verified filter payload borrowed from the table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bloom<'a> {
    bits: &'a [u8],
    k: u8,
}

impl<'a> Bloom<'a> {
    /// Checks the payload shape: a non-empty bit array and 1..=30 probes.
    pub(crate) fn parse(payload: &'a [u8]) -> Result<Bloom<'a>, Corrupt> {
        let Some((&k, bits)) = payload.split_last() else {
            return Err(Corrupt::new(0, "empty bloom filter"));
        };
        if !(1..=30).contains(&k) {
            return Err(Corrupt::new(
                payload.len() - 1,
                format!("bloom probe count {k} outside 1..=30"),
            ));
        }
        if bits.is_empty() {
            return Err(Corrupt::new(0, "bloom filter without bits"));
        }
        Ok(Bloom { bits, k })
    }

    /// False only if no key with this hash was added.
    #[inline]
    pub(crate) fn may_contain(&self, hash: u64) -> bool {
        let nbits = (self.bits.len() * 8) as u64;
        let (mut pos, delta) = probes(hash);
        for _ in 0..self.k {
            let bit = (pos % nbits) as usize;
            match self.bits.get(bit / 8) {
                Some(byte) if byte & (1 << (bit % 8)) != 0 => {}
                _ => return false,
            }
            pos = pos.wrapping_add(delta);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> Vec<u8> {
        format!("row-{i:08}").into_bytes()
    }

    #[test]
    fn no_false_negatives_and_about_one_percent_false_positives_at_10_bits() {
        let hashes: Vec<u64> = (0..10_000).map(|i| row_hash(&key(i))).collect();
        let payload = build_filter(&hashes, 10);
        let bloom = Bloom::parse(&payload).unwrap();
        for i in 0..10_000 {
            assert!(
                bloom.may_contain(row_hash(&key(i))),
                "false negative for {i}"
            );
        }
        let fp = (10_000..110_000)
            .filter(|&i| bloom.may_contain(row_hash(&key(i))))
            .count();
        let rate = fp as f64 / 100_000.0;
        assert!(rate < 0.02, "false-positive rate {rate}");
        assert!(rate > 0.002, "suspiciously low false-positive rate {rate}");
    }

    #[test]
    fn tiny_and_empty_filters_work() {
        let payload = build_filter(&[], 10);
        let bloom = Bloom::parse(&payload).unwrap();
        assert!(!bloom.may_contain(row_hash(b"x")));
        let payload = build_filter(&[row_hash(b"")], 10);
        assert!(Bloom::parse(&payload).unwrap().may_contain(row_hash(b"")));
    }

    #[test]
    fn malformed_filters_are_rejected() {
        assert!(Bloom::parse(&[]).is_err());
        assert!(Bloom::parse(&[7]).is_err());
        assert!(Bloom::parse(&[0xFF, 0]).is_err());
        assert!(Bloom::parse(&[0xFF, 31]).is_err());
    }

    #[test]
    fn hash_spreads_similar_keys() {
        assert_ne!(row_hash(b"a"), row_hash(b"b"));
        assert_ne!(row_hash(b""), row_hash(b"\0"));
        assert_ne!(row_hash(b"12345678"), row_hash(b"12345678\0"));
    }
}
