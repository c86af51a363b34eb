//! DeleteRow: removes one row, under its existence condition.

use crate::api::convert::{self, consumed, decode_request, encode_response};
use crate::api::transaction;
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::table::Catalog;

/// Handles DeleteRow.
pub fn delete_row(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::DeleteRowRequest = decode_request(body)?;
    let pk = convert::delete_row_key(&req.primary_key)?;
    let condition = convert::condition(&req.condition)?;
    let ret = convert::return_kind(req.return_content.as_ref())?;
    let outcome = match &req.transaction_id {
        Some(id) => {
            let (table, txn) = transaction::lookup(catalog, instance, &req.table_name, id)?;
            let mut session = txn.session()?;
            table.delete_row_in(pk, &condition, &ret, Some(&mut session))?
        }
        None => catalog
            .table(instance, &req.table_name)?
            .delete_row(pk, &condition, &ret)?,
    };
    Ok(encode_response(&pb::DeleteRowResponse {
        consumed: consumed(outcome.consumed),
        row: outcome
            .returned
            .as_ref()
            .map(|r| convert::encode_row(Some(r))),
    }))
}
