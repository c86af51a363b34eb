//! BatchWriteRow: many Put/Update/DeleteRows across tables, applied in request order; each
//! row is atomic on its own and answers on its own (per-row errors, HTTP 200).

use std::sync::Arc;

use crate::api::convert::{self, consumed, decode_request, encode_response};
use crate::api::transaction;
use crate::error::{OtsError, OtsResult};
use crate::protocol::pb;
use crate::table::limits;
use crate::table::transaction::TxnSession;
use crate::table::write::WriteOutcome;
use crate::table::{Catalog, Table};

fn write_one(
    table: &Arc<Table>,
    row: &pb::RowInBatchWriteRowRequest,
    txn: Option<&mut TxnSession<'_>>,
) -> OtsResult<WriteOutcome> {
    let condition = convert::condition(&row.condition)?;
    let ret = convert::return_kind(row.return_content.as_ref())?;
    match pb::OperationType::try_from(row.r#type) {
        Ok(pb::OperationType::Put) => {
            let (pk, cells) = convert::put_row_parts(&row.row_change)?;
            table.put_row_in(pk, cells, &condition, &ret, txn)
        }
        Ok(pb::OperationType::Update) => {
            let (pk, changes) = convert::update_row_parts(&row.row_change)?;
            table.update_row_in(pk, changes, &condition, &ret, txn)
        }
        Ok(pb::OperationType::Delete) => {
            let pk = convert::delete_row_key(&row.row_change)?;
            table.delete_row_in(pk, &condition, &ret, txn)
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
    // Inside a transaction every row must be in its table (and partition, checked per row).
    let txn = match &req.transaction_id {
        Some(id) => {
            let [t] = req.tables.as_slice() else {
                return Err(OtsError::param(
                    "All rows of a transaction must be in one table.",
                ));
            };
            Some(transaction::lookup(catalog, instance, &t.table_name, id)?)
        }
        None => None,
    };
    let mut session = match &txn {
        Some((_, txn)) => Some(txn.session()?),
        None => None,
    };
    let mut tables = Vec::with_capacity(req.tables.len());
    for t in &req.tables {
        let table = match &txn {
            Some((table, _)) => Ok(Arc::clone(table)),
            None => catalog.table(instance, &t.table_name),
        };
        let rows = t
            .rows
            .iter()
            .map(|row| {
                match table
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|table| write_one(table, row, session.as_mut()))
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
