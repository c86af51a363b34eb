//! CRC-8 of PlainBuffer cells and rows: polynomial 0x07, MSB first, init 0, no reflection,
//! no final XOR. Table-driven (slicing by 8 for long inputs); tables are built at compile time.

/// `TABLE[i]` is the CRC of the single byte `i`.
static TABLE: [u8; 256] = build_table();

/// `SLICES[k][i]` is `TABLE` applied `k + 1` times to `i`: the contribution of byte `i`
/// followed by `k` more bytes. The CRC is linear, so eight bytes fold into eight independent
/// lookups instead of a chain of eight dependent ones (values are most of a response).
static SLICES: [[u8; 256]; 8] = build_slices();

const fn build_slices() -> [[u8; 256]; 8] {
    let table = build_table();
    let mut slices = [[0u8; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut v = table[i];
        let mut k = 0;
        while k < 8 {
            slices[k][i] = v;
            v = table[v as usize];
            k += 1;
        }
        i += 1;
    }
    slices
}

const fn build_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// Feeds one byte into `crc`.
#[inline]
pub fn crc_u8(crc: u8, byte: u8) -> u8 {
    TABLE[usize::from(crc ^ byte)]
}

/// Feeds `bytes` in order into `crc`.
#[inline]
pub fn crc_bytes(mut crc: u8, bytes: &[u8]) -> u8 {
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let t = &SLICES;
        crc = t[7][usize::from(crc ^ c[0])]
            ^ t[6][usize::from(c[1])]
            ^ t[5][usize::from(c[2])]
            ^ t[4][usize::from(c[3])]
            ^ t[3][usize::from(c[4])]
            ^ t[2][usize::from(c[5])]
            ^ t[1][usize::from(c[6])]
            ^ t[0][usize::from(c[7])];
    }
    chunks.remainder().iter().fold(crc, |c, &b| crc_u8(c, b))
}

/// Feeds the 4 little-endian bytes of `v`, low byte first.
#[inline]
pub fn crc_i32(crc: u8, v: i32) -> u8 {
    crc_bytes(crc, &v.to_le_bytes())
}

/// Feeds the 8 little-endian bytes of `v`, low byte first.
#[inline]
pub fn crc_i64(crc: u8, v: i64) -> u8 {
    crc_bytes(crc, &v.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-by-bit reference, independent of the table.
    fn bitwise(data: &[u8]) -> u8 {
        let mut crc = 0u8;
        for &b in data {
            crc ^= b;
            for _ in 0..8 {
                crc = if crc & 0x80 != 0 {
                    (crc << 1) ^ 0x07
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    #[test]
    fn table_starts_with_documented_entries() {
        assert_eq!(
            &TABLE[..8],
            &[0x00, 0x07, 0x0e, 0x09, 0x1c, 0x1b, 0x12, 0x15]
        );
        assert_eq!(TABLE[0xff], 0xf3);
    }

    #[test]
    fn table_matches_bitwise_computation_for_every_byte() {
        for i in 0..=255u8 {
            assert_eq!(crc_u8(0, i), bitwise(&[i]), "entry {i}");
        }
    }

    #[test]
    fn check_value_of_crc8_standard_string() {
        // CRC-8 (poly 0x07, init 0) of "123456789" is 0xF4.
        assert_eq!(crc_bytes(0, b"123456789"), 0xf4);
        assert_eq!(bitwise(b"123456789"), 0xf4);
    }

    #[test]
    fn sliced_crc_matches_bitwise_for_every_length_and_start() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
        for len in 0..data.len() {
            for init in [0u8, 0x5a, 0xff] {
                let mut want = init;
                for &b in &data[..len] {
                    want = crc_u8(want, b);
                }
                assert_eq!(crc_bytes(init, &data[..len]), want, "len {len} init {init}");
            }
        }
        assert_eq!(crc_bytes(0, &data), bitwise(&data));
    }

    #[test]
    fn integers_are_fed_little_endian() {
        assert_eq!(crc_i32(0, 2), crc_bytes(0, &[2, 0, 0, 0]));
        assert_eq!(crc_i64(0x5a, -1), crc_bytes(0x5a, &[0xff; 8]));
    }

    #[test]
    fn delete_marker_row_checksum_of_vector_8_3() {
        // Cell crc 0x00, then the marker byte 1: documented row crc 0x07.
        assert_eq!(crc_u8(crc_u8(0, 0x00), 1), 0x07);
    }
}
