//! Fuzzes PlainBuffer decoding: arbitrary bytes must never panic, and whatever decodes must
//! survive an encode/decode round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsd::protocol::plainbuffer::{
    decode_pk_value, decode_row, decode_rows, decode_value, encode_pk_value, encode_row,
    encode_value, RowsEncoder,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(rows) = decode_rows(data) {
        let mut enc = RowsEncoder::new();
        for row in &rows {
            enc.push(row);
        }
        let again = decode_rows(&enc.finish()).expect("re-encoded rows decode");
        assert_eq!(again, rows);
    }
    if let Ok(row) = decode_row(data) {
        let again = decode_row(&encode_row(&row)).expect("re-encoded row decodes");
        assert_eq!(again, row);
    }
    if let Ok(v) = decode_value(data) {
        // Bare values have no prefix to ignore, so they re-encode to the very same bytes.
        assert_eq!(encode_value(&v), data);
    }
    if let Ok(v) = decode_pk_value(data) {
        // A bare key value may carry trailing zero bytes (the Node SDK's padding after
        // placeholders), which decoding ignores: the re-encoding is the input without them.
        let enc = encode_pk_value(&v);
        assert!(
            data.starts_with(&enc),
            "{enc:?} is not a prefix of {data:?}"
        );
        assert!(data[enc.len()..].iter().all(|&b| b == 0), "{data:?}");
    }
});
