//! Shared helpers of the engine model tests (`engine_model`, `engine_read_model`): rows are
//! integers, columns `c0`, `c1`, ..., values one byte, so a read row compares with a model
//! row as plain numbers.

#![allow(dead_code)] // Each test file uses a different subset.

use otsd::engine::key::{encode_row_key, PkValue};
use otsd::engine::Row;

/// What a read returns of a row: (column, [(version, value)] newest first).
pub type RowView = Vec<(u8, Vec<(i64, u8)>)>;

/// The encoded key of model row `row`.
pub fn rk(row: i64) -> Vec<u8> {
    encode_row_key(&[PkValue::Integer(row)])
}

/// The name of model column `c`.
pub fn col_name(c: u8) -> Vec<u8> {
    vec![b'c', b'0' + c]
}

/// An engine row in model form.
pub fn engine_view(r: &Row) -> RowView {
    r.columns
        .iter()
        .map(|c| {
            (
                c.name[1] - b'0',
                c.cells.iter().map(|x| (x.version_ms, x.value[0])).collect(),
            )
        })
        .collect()
}
