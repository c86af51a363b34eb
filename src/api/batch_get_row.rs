//! BatchGetRow: many GetRows across tables; each row answers on its own (per-row errors,
//! HTTP 200), tables and rows in request order.

use std::collections::HashSet;

use crate::api::convert::{self, consumed, decode_request, encode_response};
use crate::error::{OtsError, OtsResult};
use crate::protocol::pb;
use crate::table::limits;
use crate::table::Catalog;

fn row_error(e: &OtsError) -> pb::RowInBatchGetRowResponse {
    pb::RowInBatchGetRowResponse {
        is_ok: false,
        error: Some(convert::error(e)),
        ..Default::default()
    }
}

/// Handles BatchGetRow.
pub fn batch_get_row(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::BatchGetRowRequest = decode_request(body)?;
    if req.tables.is_empty() {
        return Err(OtsError::param(
            "No row specified in the request of BatchGetRow.",
        ));
    }
    let total: usize = req.tables.iter().map(|t| t.primary_key.len()).sum();
    limits::check_batch_rows(total, limits::MAX_BATCH_GET_ROWS)?;
    let mut seen = HashSet::new();
    for t in &req.tables {
        if !seen.insert(t.table_name.as_str()) {
            return Err(OtsError::param(format!(
                "Duplicated table name: {}.",
                t.table_name
            )));
        }
    }
    let mut tables = Vec::with_capacity(req.tables.len());
    for t in req.tables {
        let mut rows = Vec::with_capacity(t.primary_key.len());
        let prepared = catalog.table(instance, &t.table_name).and_then(|table| {
            let spec = convert::read_spec(
                t.filter.as_deref(),
                t.columns_to_get,
                t.time_range.as_ref(),
                t.max_versions,
                t.start_column,
                t.end_column,
            )?;
            Ok((table, spec))
        });
        for key in &t.primary_key {
            let result = prepared
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|(table, spec)| {
                    let pk = convert::key_row(key)?;
                    table.get_row(pk, spec)
                });
            rows.push(match result {
                Ok((row, used)) => pb::RowInBatchGetRowResponse {
                    is_ok: true,
                    consumed: Some(consumed(used)),
                    row: Some(convert::encode_row(row.as_ref())),
                    ..Default::default()
                },
                Err(e) => row_error(&e),
            });
        }
        tables.push(pb::TableInBatchGetRowResponse {
            table_name: t.table_name,
            rows,
        });
    }
    Ok(encode_response(&pb::BatchGetRowResponse { tables }))
}
