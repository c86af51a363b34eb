//! BatchWriteRow: many Put/Update/DeleteRows across tables, applied in request order; each
//! row is atomic on its own and answers on its own (per-row errors, HTTP 200).

use std::sync::Arc;

use crate::api::convert::{self, consumed, decode_request, encode_response};
use crate::error::{OtsError, OtsResult};
use crate::protocol::pb;
use crate::table::limits;
use crate::table::write::WriteOutcome;
use crate::table::{Catalog, Table};

fn write_one(table: &Arc<Table>, row: &pb::RowInBatchWriteRowRequest) -> OtsResult<WriteOutcome> {
    let condition = convert::condition(&row.condition)?;
    let ret = convert::return_kind(row.return_content.as_ref())?;
    match pb::OperationType::try_from(row.r#type) {
        Ok(pb::OperationType::Put) => {
            let (pk, cells) = convert::put_row_parts(&row.row_change)?;
            table.put_row(pk, cells, &condition, &ret)
        }
        Ok(pb::OperationType::Update) => {
            let (pk, changes) = convert::update_row_parts(&row.row_change)?;
            table.update_row(pk, changes, &condition, &ret)
        }
        Ok(pb::OperationType::Delete) => {
            let pk = convert::delete_row_key(&row.row_change)?;
            table.delete_row(pk, &condition, &ret)
        }
        Err(_) => Err(OtsError::param("The modify type is invalid.")),
    }
}

/// Handles BatchWriteRow.
pub fn batch_write_row(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::BatchWriteRowRequest = decode_request(body)?;
    if req.tables.is_empty() {
        return Err(OtsError::param("No row is specified in BatchWriteRow."));
    }
    if req.transaction_id.is_some() {
        return Err(OtsError::param(
            "Local transactions are not supported by otsd yet.",
        ));
    }
    let mut total = 0usize;
    let mut bytes = 0usize;
    for (i, t) in req.tables.iter().enumerate() {
        if t.rows.is_empty() {
            return Err(OtsError::param(format!(
                "No operation is specified for table: '{}'.",
                t.table_name
            )));
        }
        if req.tables[..i].iter().any(|o| o.table_name == t.table_name) {
            return Err(OtsError::param(format!(
                "Duplicated table name: {}.",
                t.table_name
            )));
        }
        total += t.rows.len();
        bytes += t.rows.iter().map(|r| r.row_change.len()).sum::<usize>();
    }
    limits::check_batch_rows(total, limits::MAX_BATCH_WRITE_ROWS)?;
    limits::check_write_request_bytes("BatchWriteRow", bytes)?;
    let mut tables = Vec::with_capacity(req.tables.len());
    for t in &req.tables {
        let table = catalog.table(instance, &t.table_name);
        let rows = t
            .rows
            .iter()
            .map(|row| {
                match table
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|table| write_one(table, row))
                {
                    Ok(outcome) => pb::RowInBatchWriteRowResponse {
                        is_ok: true,
                        error: None,
                        consumed: Some(consumed(outcome.consumed)),
                        row: outcome
                            .returned
                            .as_ref()
                            .map(|r| convert::encode_row(Some(r))),
                    },
                    Err(e) => pb::RowInBatchWriteRowResponse {
                        is_ok: false,
                        error: Some(convert::error(&e)),
                        consumed: None,
                        row: None,
                    },
                }
            })
            .collect();
        tables.push(pb::TableInBatchWriteRowResponse {
            table_name: t.table_name.clone(),
            rows,
        });
    }
    Ok(encode_response(&pb::BatchWriteRowResponse { tables }))
}
