//! GetRow: one row by primary key; an absent row answers with an empty `row`.

use crate::api::convert::{self, consumed, decode_request, encode_response};
use crate::api::transaction;
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::protocol::plainbuffer::RowsEncoder;
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
            let (row, used) = table.get_row_in(pk, &spec, Some(&session))?;
            (convert::encode_row(row.as_ref()), used)
        }
        // Without a filter, the row goes from the engine's buffer straight into the response.
        None if spec.filter.is_none() => {
            let mut rows = RowsEncoder::new();
            let table = catalog.table(instance, &req.table_name)?;
            let used =
                table.get_row_lent(pk, &spec, |row| convert::push_row_view(&mut rows, row))?;
            (rows.finish(), used)
        }
        None => {
            let table = catalog.table(instance, &req.table_name)?;
            let (row, used) = table.get_row(pk, &spec)?;
            (convert::encode_row(row.as_ref()), used)
        }
    };
    Ok(encode_response(&pb::GetRowResponse {
        consumed: consumed(used),
        row,
        next_token: None,
    }))
}
