//! StartLocalTransaction, CommitTransaction and AbortTransaction, plus the lookup every row
//! operation carrying a `transaction_id` goes through. The rules live in `table::transaction`.

use std::sync::Arc;

use crate::api::convert::{self, decode_request, encode_response};
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::table::transaction::{self, Transaction};
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
