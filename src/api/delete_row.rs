//! DeleteRow: removes one row, under its existence condition.

use crate::api::convert::{self, decode_request, encode_response};
use crate::api::transaction;
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::table::write::RowWrite;
use crate::table::Catalog;

/// Handles DeleteRow.
pub fn delete_row(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::DeleteRowRequest = decode_request(body)?;
    let pk = convert::delete_row_key(&req.primary_key)?;
    let (consumed, row) = transaction::write_row(
        catalog,
        instance,
        &req.table_name,
        req.transaction_id.as_deref(),
        RowWrite::Delete { pk },
        &convert::condition(&req.condition)?,
        &convert::return_kind(req.return_content.as_ref())?,
    )?;
    Ok(encode_response(&pb::DeleteRowResponse { consumed, row }))
}
