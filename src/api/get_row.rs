//! GetRow: one row by primary key; an absent row answers with an empty `row`.

use crate::api::convert::{self, consumed, decode_request, encode_response};
use crate::api::transaction;
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::table::Catalog;

/// Handles GetRow.
pub fn get_row(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::GetRowRequest = decode_request(body)?;
    let pk = convert::key_row(&req.primary_key)?;
    let spec = convert::read_spec(
        req.filter.as_deref(),
        req.columns_to_get,
        req.time_range.as_ref(),
        req.max_versions,
        req.start_column,
        req.end_column,
    )?;
    let (row, used) = match &req.transaction_id {
        Some(id) => {
            let (table, txn) = transaction::lookup(catalog, instance, &req.table_name, id)?;
            let session = txn.session()?;
            table.get_row_in(pk, &spec, Some(&session))?
        }
        None => catalog
            .table(instance, &req.table_name)?
            .get_row(pk, &spec)?,
    };
    Ok(encode_response(&pb::GetRowResponse {
        consumed: consumed(used),
        row: convert::encode_row(row.as_ref()),
        next_token: None,
    }))
}
