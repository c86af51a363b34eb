//! BatchWriteRow: many Put/Update/DeleteRows across tables, applied in request order; each
//! row is atomic on its own and answers on its own (per-row errors, HTTP 200).

use std::sync::Arc;

use crate::api::convert::{self, consumed, decode_request, encode_response};
use crate::api::transaction;
use crate::error::{OtsError, OtsResult};
use crate::protocol::pb;
use crate::table::condition::Condition;
use crate::table::limits;
use crate::table::transaction::TxnSession;
use crate::table::write::{ReturnKind, RowWrite, WriteOutcome};
use crate::table::{Catalog, Table};

/// Decodes one row of the request into a row write with its condition and return kind.
fn decode_row(row: &pb::RowInBatchWriteRowRequest) -> OtsResult<(RowWrite, Condition, ReturnKind)> {
    let condition = convert::condition(&row.condition)?;
    let ret = convert::return_kind(row.return_content.as_ref())?;
    let write = match pb::OperationType::try_from(row.r#type) {
        Ok(pb::OperationType::Put) => {
            let (pk, cells) = convert::put_row_parts(&row.row_change)?;
            RowWrite::Put { pk, cells }
        }
        Ok(pb::OperationType::Update) => {
            let (pk, changes) = convert::update_row_parts(&row.row_change)?;
            RowWrite::Update { pk, changes }
        }
        Ok(pb::OperationType::Delete) => RowWrite::Delete {
            pk: convert::delete_row_key(&row.row_change)?,
        },
        Err(_) => return Err(OtsError::param("The modify type is invalid.")),
    };
    Ok((write, condition, ret))
}

/// Writes one table's rows: inside the transaction row by row, else as one group commit.
fn write_table_rows(
    table: &Arc<Table>,
    rows: &[pb::RowInBatchWriteRowRequest],
    mut session: Option<&mut TxnSession<'_>>,
) -> Vec<OtsResult<WriteOutcome>> {
    let decoded: Vec<_> = rows.iter().map(decode_row).collect();
    if let Some(session) = session.as_mut() {
        return decoded
            .into_iter()
            .map(|d| {
                let (write, condition, ret) = d?;
                table.write_row_in(write, &condition, &ret, Some(&mut **session))
            })
            .collect();
    }
    let mut valid = Vec::with_capacity(decoded.len());
    let mut results: Vec<Option<OtsResult<WriteOutcome>>> = Vec::with_capacity(decoded.len());
    for d in decoded {
        match d {
            Ok(row) => {
                valid.push(row);
                results.push(None);
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    let mut written = table.write_rows(valid).into_iter();
    results
        .into_iter()
        .map(|r| {
            r.or_else(|| written.next())
                .unwrap_or_else(|| Err(OtsError::internal()))
        })
        .collect()
}

fn row_response(result: OtsResult<WriteOutcome>) -> pb::RowInBatchWriteRowResponse {
    match result {
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
}

/// Handles BatchWriteRow.
pub fn batch_write_row(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::BatchWriteRowRequest = decode_request(body)?;
    if req.tables.is_empty() {
        return Err(OtsError::param("No row is specified in BatchWriteRow."));
    }
    let mut total = 0usize;
    let mut bytes = 0usize;
    let mut names = std::collections::HashSet::with_capacity(req.tables.len());
    for t in &req.tables {
        if t.rows.is_empty() {
            return Err(OtsError::param(format!(
                "No operation is specified for table: '{}'.",
                t.table_name
            )));
        }
        if !names.insert(t.table_name.as_str()) {
            return Err(OtsError::param(format!(
                "Duplicated table name: {}.",
                t.table_name
            )));
        }
        total += t.rows.len();
        // Checked as we go: a body of many tiny tables must not cost more than the limit.
        limits::check_batch_rows(total, limits::MAX_BATCH_WRITE_ROWS)?;
        bytes += t.rows.iter().map(|r| r.row_change.len()).sum::<usize>();
    }
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
        let rows = match table {
            Ok(table) => write_table_rows(&table, &t.rows, session.as_mut()),
            Err(e) => t.rows.iter().map(|_| Err(e.clone())).collect(),
        }
        .into_iter()
        .map(row_response)
        .collect();
        tables.push(pb::TableInBatchWriteRowResponse {
            table_name: t.table_name.clone(),
            rows,
        });
    }
    Ok(encode_response(&pb::BatchWriteRowResponse { tables }))
}
