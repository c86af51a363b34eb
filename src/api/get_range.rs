//! GetRange: rows between two primary keys, forward or backward, paged by limit, 5000 rows
//! or 4 MB with `next_start_primary_key`.

use crate::api::convert::{self, consumed, decode_request, encode_response};
use crate::api::transaction;
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::protocol::plainbuffer::RowsEncoder;
use crate::table::Catalog;

/// Initial size of the rows buffer of a response (a 20-row page of small rows fits).
const PAGE_BUFFER_BYTES: usize = 4096;

/// Handles GetRange.
pub fn get_range(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::GetRangeRequest = decode_request(body)?;
    let direction = convert::direction(req.direction)?;
    let start = convert::key_row(&req.inclusive_start_primary_key)?;
    let end = convert::key_row(&req.exclusive_end_primary_key)?;
    let spec = convert::read_spec(
        req.filter.as_deref(),
        req.columns_to_get,
        req.time_range.as_ref(),
        req.max_versions,
        req.start_column,
        req.end_column,
    )?;
    // Room for a typical page up front: growing from empty re-copied the rows about
    // eight times per response.
    let mut rows = RowsEncoder::with_capacity(PAGE_BUFFER_BYTES);
    let page =
        match &req.transaction_id {
            Some(id) => {
                let (table, txn) = transaction::lookup(catalog, instance, &req.table_name, id)?;
                let session = txn.session()?;
                table.get_range_in(start, end, direction, req.limit, &spec, Some(&session))?
            }
            // Without a filter, rows go from the engine's buffer straight into the response.
            None if spec.filter.is_none() => catalog
                .table(instance, &req.table_name)?
                .get_range_lent(start, end, direction, req.limit, &spec, |row| {
                    convert::push_row_view(&mut rows, row)
                })?,
            None => catalog
                .table(instance, &req.table_name)?
                .get_range(start, end, direction, req.limit, &spec)?,
        };
    for row in &page.rows {
        convert::push_row(&mut rows, row);
    }
    Ok(encode_response(&pb::GetRangeResponse {
        consumed: consumed(page.consumed),
        rows: rows.finish(),
        next_start_primary_key: page.next_start.as_ref().map(convert::encode_stored_pk),
        ..Default::default()
    }))
}
