//! UpdateRow: puts, deletes and increments columns of one row, under its condition.

use crate::api::convert::{self, decode_request, encode_response};
use crate::api::transaction;
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::table::limits;
use crate::table::write::RowWrite;
use crate::table::Catalog;

/// Handles UpdateRow.
pub fn update_row(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::UpdateRowRequest = decode_request(body)?;
    limits::check_write_request_bytes("UpdateRow", req.row_change.len())?;
    let (pk, changes) = convert::update_row_parts(&req.row_change)?;
    let (consumed, row) = transaction::write_row(
        catalog,
        instance,
        &req.table_name,
        req.transaction_id.as_deref(),
        RowWrite::Update { pk, changes },
        &convert::condition(&req.condition)?,
        &convert::return_kind(req.return_content.as_ref())?,
    )?;
    Ok(encode_response(&pb::UpdateRowResponse { consumed, row }))
}
