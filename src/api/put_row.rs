//! PutRow: replaces a whole row, under its existence condition.

use crate::api::convert::{self, consumed, decode_request, encode_response};
use crate::api::transaction;
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::table::limits;
use crate::table::Catalog;

/// Handles PutRow.
pub fn put_row(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::PutRowRequest = decode_request(body)?;
    limits::check_write_request_bytes("PutRow", req.row.len())?;
    let (pk, cells) = convert::put_row_parts(&req.row)?;
    let condition = convert::condition(&req.condition)?;
    let ret = convert::return_kind(req.return_content.as_ref())?;
    let outcome = match &req.transaction_id {
        Some(id) => {
            let (table, txn) = transaction::lookup(catalog, instance, &req.table_name, id)?;
            let mut session = txn.session()?;
            table.put_row_in(pk, cells, &condition, &ret, Some(&mut session))?
        }
        None => catalog
            .table(instance, &req.table_name)?
            .put_row(pk, cells, &condition, &ret)?,
    };
    Ok(encode_response(&pb::PutRowResponse {
        consumed: consumed(outcome.consumed),
        row: outcome
            .returned
            .as_ref()
            .map(|r| convert::encode_row(Some(r))),
    }))
}
