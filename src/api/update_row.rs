//! UpdateRow: puts, deletes and increments columns of one row, under its condition.

use crate::api::convert::{self, consumed, decode_request, encode_response};
use crate::api::transaction;
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::table::limits;
use crate::table::Catalog;

/// Handles UpdateRow.
pub fn update_row(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::UpdateRowRequest = decode_request(body)?;
    limits::check_write_request_bytes("UpdateRow", req.row_change.len())?;
    let (pk, changes) = convert::update_row_parts(&req.row_change)?;
    let condition = convert::condition(&req.condition)?;
    let ret = convert::return_kind(req.return_content.as_ref())?;
    let outcome = match &req.transaction_id {
        Some(id) => {
            let (table, txn) = transaction::lookup(catalog, instance, &req.table_name, id)?;
            let mut session = txn.session()?;
            table.update_row_in(pk, changes, &condition, &ret, Some(&mut session))?
        }
        None => catalog
            .table(instance, &req.table_name)?
            .update_row(pk, changes, &condition, &ret)?,
    };
    Ok(encode_response(&pb::UpdateRowResponse {
        consumed: consumed(outcome.consumed),
        row: outcome
            .returned
            .as_ref()
            .map(|r| convert::encode_row(Some(r))),
    }))
}
