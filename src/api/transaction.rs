//! StartLocalTransaction, CommitTransaction and AbortTransaction, plus the lookup every row
//! operation carrying a `transaction_id` goes through. The rules live in `table::transaction`.

use std::sync::Arc;

use crate::api::convert::{self, decode_request, encode_response};
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::table::condition::Condition;
use crate::table::transaction::{self, Transaction};
use crate::table::write::{ReturnKind, RowWrite};
use crate::table::{Catalog, Table};

/// The table and open transaction a row operation on `table_name` names with `id`.
///
/// Errors: 400 "TransactionID is invalid." for an unknown, finished or expired id, or one
/// opened on another table; 404 when the table does not exist.
pub fn lookup(
    catalog: &Catalog,
    instance: &str,
    table_name: &str,
    id: &str,
) -> OtsResult<(Arc<Table>, Arc<Transaction>)> {
    let (table, txn) = catalog.transaction(instance, id)?;
    if table.name() != table_name {
        catalog.table(instance, table_name)?;
        return Err(transaction::invalid_id());
    }
    Ok((table, txn))
}

/// Runs one single-row write (PutRow, UpdateRow, DeleteRow) on `table_name`: inside the
/// transaction `transaction_id` names, or directly. Returns the consumed capacity and the
/// encoded row ReturnContent asked for.
pub fn write_row(
    catalog: &Catalog,
    instance: &str,
    table_name: &str,
    transaction_id: Option<&str>,
    write: RowWrite,
    condition: &Condition,
    ret: &ReturnKind,
) -> OtsResult<(pb::ConsumedCapacity, Option<Vec<u8>>)> {
    let outcome = match transaction_id {
        Some(id) => {
            let (table, txn) = lookup(catalog, instance, table_name, id)?;
            let mut session = txn.session()?;
            table.write_row_in(write, condition, ret, Some(&mut session))?
        }
        None => catalog
            .table(instance, table_name)?
            .write_row_in(write, condition, ret, None)?,
    };
    let row = outcome
        .returned
        .as_ref()
        .map(|r| convert::encode_row(Some(r)));
    Ok((convert::consumed(outcome.consumed), row))
}

/// Handles StartLocalTransaction.
pub fn start_local_transaction(
    catalog: &Catalog,
    instance: &str,
    body: &[u8],
) -> OtsResult<Vec<u8>> {
    let req: pb::StartLocalTransactionRequest = decode_request(body)?;
    let key = convert::key_row(&req.key)?;
    let transaction_id = catalog.start_transaction(instance, &req.table_name, key)?;
    Ok(encode_response(&pb::StartLocalTransactionResponse {
        transaction_id,
    }))
}

/// Handles CommitTransaction.
pub fn commit_transaction(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::CommitTransactionRequest = decode_request(body)?;
    catalog.commit_transaction(instance, &req.transaction_id)?;
    Ok(encode_response(&pb::CommitTransactionResponse {}))
}

/// Handles AbortTransaction.
pub fn abort_transaction(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::AbortTransactionRequest = decode_request(body)?;
    catalog.abort_transaction(instance, &req.transaction_id)?;
    Ok(encode_response(&pb::AbortTransactionResponse {}))
}
