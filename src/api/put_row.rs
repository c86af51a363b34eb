//! PutRow: replaces a whole row, under its existence condition.

use crate::api::convert::{self, decode_request, encode_response};
use crate::api::transaction;
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::table::limits;
use crate::table::write::RowWrite;
use crate::table::Catalog;

/// Handles PutRow.
pub fn put_row(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::PutRowRequest = decode_request(body)?;
    limits::check_write_request_bytes("PutRow", req.row.len())?;
    let (pk, cells) = convert::put_row_parts(&req.row)?;
    let (consumed, row) = transaction::write_row(
        catalog,
        instance,
        &req.table_name,
        req.transaction_id.as_deref(),
        RowWrite::Put { pk, cells },
        &convert::condition(&req.condition)?,
        &convert::return_kind(req.return_content.as_ref())?,
    )?;
    Ok(encode_response(&pb::PutRowResponse { consumed, row }))
}
