//! PutRow (replace a whole row), UpdateRow (put, delete and increment columns) and DeleteRow:
//! one row under its condition. The three decode into one `SingleRowWrite`, run the same way
//! (inside the request's transaction or directly), and answer with the consumed capacity and
//! the row ReturnContent asked for.

use std::sync::Arc;

use crate::api::convert::{self, decode_request, encode_response};
use crate::api::{transaction, Api};
use crate::error::{OtsError, OtsResult};
use crate::protocol::pb;
use crate::table::condition::Condition;
use crate::table::limits;
use crate::table::write::{ReturnKind, RowWrite, WriteOutcome};
use crate::table::Catalog;

/// A decoded PutRow, UpdateRow or DeleteRow request.
pub struct SingleRowWrite {
    api: Api,
    table_name: String,
    transaction_id: Option<String>,
    write: RowWrite,
    condition: Condition,
    ret: ReturnKind,
}

impl SingleRowWrite {
    /// Decodes the request body of `api` (PutRow, UpdateRow or DeleteRow).
    ///
    /// Errors: 400 for a malformed request, a row over the size limit, or another API.
    pub fn decode(api: Api, body: &[u8]) -> OtsResult<SingleRowWrite> {
        let (table_name, transaction_id, write, condition, ret) = match api {
            Api::PutRow => {
                let req: pb::PutRowRequest = decode_request(body)?;
                limits::check_write_request_bytes("PutRow", req.row.len())?;
                let (pk, cells) = convert::put_row_parts(&req.row)?;
                let write = RowWrite::Put { pk, cells };
                let (c, r) = (req.condition, req.return_content);
                (req.table_name, req.transaction_id, write, c, r)
            }
            Api::UpdateRow => {
                let req: pb::UpdateRowRequest = decode_request(body)?;
                limits::check_write_request_bytes("UpdateRow", req.row_change.len())?;
                let (pk, changes) = convert::update_row_parts(&req.row_change)?;
                let write = RowWrite::Update { pk, changes };
                let (c, r) = (req.condition, req.return_content);
                (req.table_name, req.transaction_id, write, c, r)
            }
            Api::DeleteRow => {
                let req: pb::DeleteRowRequest = decode_request(body)?;
                let pk = convert::delete_row_key(&req.primary_key)?;
                let write = RowWrite::Delete { pk };
                let (c, r) = (req.condition, req.return_content);
                (req.table_name, req.transaction_id, write, c, r)
            }
            _ => return Err(OtsError::param("Not a single-row write.")),
        };
        Ok(SingleRowWrite {
            api,
            table_name,
            transaction_id,
            write,
            condition: convert::condition(&condition)?,
            ret: convert::return_kind(ret.as_ref())?,
        })
    }

    /// Runs the write (blocking: the commit may wait on an fsync).
    ///
    /// Errors: a missing table or transaction, validation, condition and engine errors.
    pub fn run(self, catalog: &Catalog, instance: &str) -> OtsResult<Vec<u8>> {
        let api = self.api;
        let outcome = match &self.transaction_id {
            Some(id) => {
                let (table, txn) = transaction::lookup(catalog, instance, &self.table_name, id)?;
                let mut session = txn.session()?;
                table.write_row_in(self.write, &self.condition, &self.ret, Some(&mut session))?
            }
            None => catalog.table(instance, &self.table_name)?.write_row_in(
                self.write,
                &self.condition,
                &self.ret,
                None,
            )?,
        };
        Ok(respond(api, outcome))
    }

    /// Runs the write for an async caller: outside a transaction the commit is awaited
    /// without holding a thread (`Table::write_row_async`); inside one, the transaction's
    /// buffer is used on a blocking thread.
    ///
    /// Errors: as `run`.
    pub async fn run_async(self, catalog: Arc<Catalog>, instance: String) -> OtsResult<Vec<u8>> {
        if self.transaction_id.is_some() {
            return tokio::task::spawn_blocking(move || self.run(&catalog, &instance))
                .await
                .map_err(|_| OtsError::internal())?;
        }
        let api = self.api;
        let table = catalog.table(&instance, &self.table_name)?;
        let outcome = table
            .write_row_async(self.write, self.condition, self.ret)
            .await?;
        Ok(respond(api, outcome))
    }
}

/// The response of `api` (the three responses have the same fields).
fn respond(api: Api, outcome: WriteOutcome) -> Vec<u8> {
    let consumed = convert::consumed(outcome.consumed);
    let row = outcome
        .returned
        .as_ref()
        .map(|r| convert::encode_row(Some(r)));
    match api {
        Api::UpdateRow => encode_response(&pb::UpdateRowResponse { consumed, row }),
        Api::DeleteRow => encode_response(&pb::DeleteRowResponse { consumed, row }),
        _ => encode_response(&pb::PutRowResponse { consumed, row }),
    }
}
