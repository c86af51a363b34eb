//! BatchWriteRow: many Put/Update/DeleteRows across tables; each row is atomic on its own
//! and answers on its own (per-row errors, HTTP 200). Within a table rows apply in request
//! order; the tables of a request commit side by side (each table has its own log).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::api::convert::{self, consumed, decode_request, encode_response};
use crate::api::transaction;
use crate::error::{OtsError, OtsResult};
use crate::protocol::pb;
use crate::table::condition::Condition;
use crate::table::limits;
use crate::table::row::ColumnChange;
use crate::table::schema::PkInput;
use crate::table::transaction::TxnSession;
use crate::table::write::{ReturnKind, RowWrite, WriteOutcome};
use crate::table::{Catalog, Table};

/// Decodes one row of the request into a row write with its condition and return kind.
fn decode_row(row: &pb::RowInBatchWriteRowRequest) -> DecodedRow {
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

/// One request row after decoding: the write, its condition and what it returns.
type DecodedRow = OtsResult<(RowWrite, Condition, ReturnKind)>;

/// True if the row changes a column by INCREMENT (an atomic counter).
fn is_counter(row: &DecodedRow) -> bool {
    matches!(row, Ok((RowWrite::Update { changes, .. }, _, _))
        if changes.iter().any(|c| matches!(c, ColumnChange::Increment { .. })))
}

/// The row's primary key, unless it holds the AUTO_INCREMENT placeholder (a new row each time).
fn fixed_key(row: &DecodedRow) -> Option<&[(String, PkInput)]> {
    let pk = row.as_ref().ok()?.0.primary_key();
    (!pk.iter().any(|(_, v)| *v == PkInput::AutoIncrement)).then_some(pk)
}

/// Answers with an error every row that breaks the atomic-counter rule of BatchWriteRow: a row
/// written with INCREMENT may be written only once in the request (the atomic counter docs).
fn refuse_repeated_counter_rows(rows: &mut [DecodedRow]) {
    if !rows.iter().any(is_counter) {
        return; // the common case costs one pass
    }
    let mut refused = vec![false; rows.len()];
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            let same_row =
                matches!((fixed_key(&rows[i]), fixed_key(&rows[j])), (Some(a), Some(b)) if a == b);
            if same_row && (is_counter(&rows[i]) || is_counter(&rows[j])) {
                refused[i] = true;
                refused[j] = true;
            }
        }
    }
    for (row, refused) in rows.iter_mut().zip(refused) {
        if refused {
            *row = Err(OtsError::param(
                "A row with an atomic counter operation can be written only once in a BatchWriteRow request.",
            ));
        }
    }
}

/// Writes one table's rows: inside the transaction row by row, else as one group commit.
fn write_table_rows(
    table: &Arc<Table>,
    rows: &[pb::RowInBatchWriteRowRequest],
    mut session: Option<&mut TxnSession<'_>>,
) -> Vec<OtsResult<WriteOutcome>> {
    let decoded = decode_rows(rows);
    if let Some(session) = session.as_mut() {
        return decoded
            .into_iter()
            .map(|d| {
                let (write, condition, ret) = d?;
                table.write_row_in(write, &condition, &ret, Some(&mut **session))
            })
            .collect();
    }
    let (valid, answers) = split_valid(decoded);
    merge_answers(answers, table.write_rows(valid))
}

/// `write_table_rows` outside a transaction, for an async caller: the group commit is
/// awaited without holding a thread (`Table::write_rows_async`).
async fn write_table_rows_async(
    table: Arc<Table>,
    rows: &[pb::RowInBatchWriteRowRequest],
) -> Vec<OtsResult<WriteOutcome>> {
    let (valid, answers) = split_valid(decode_rows(rows));
    merge_answers(answers, table.write_rows_async(valid).await)
}

/// Decodes a table's rows, refusing counter rows written more than once.
fn decode_rows(rows: &[pb::RowInBatchWriteRowRequest]) -> Vec<DecodedRow> {
    let mut decoded: Vec<_> = rows.iter().map(decode_row).collect();
    refuse_repeated_counter_rows(&mut decoded);
    decoded
}

/// The rows to write, and per request row its answer when it already failed (`None`: it
/// is written, and answered in order by the write's results).
type Answers = Vec<Option<OtsResult<WriteOutcome>>>;

/// Splits decoded rows into the ones to write and the answers of those that failed.
fn split_valid(decoded: Vec<DecodedRow>) -> (Vec<(RowWrite, Condition, ReturnKind)>, Answers) {
    let mut valid = Vec::with_capacity(decoded.len());
    let mut answers = Vec::with_capacity(decoded.len());
    for d in decoded {
        match d {
            Ok(row) => {
                valid.push(row);
                answers.push(None);
            }
            Err(e) => answers.push(Some(Err(e))),
        }
    }
    (valid, answers)
}

/// Every request row's answer, in order: its decoding error, or the next written result.
fn merge_answers(
    answers: Answers,
    written: Vec<OtsResult<WriteOutcome>>,
) -> Vec<OtsResult<WriteOutcome>> {
    let mut written = written.into_iter();
    answers
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

/// BatchWriteRow with `is_atomic` (outside a transaction): one table, one partition key,
/// all rows applied or none. A malformed row fails the whole request.
fn atomic_batch_write_row(
    catalog: &Catalog,
    instance: &str,
    req: &pb::BatchWriteRowRequest,
) -> OtsResult<Vec<u8>> {
    let [t] = req.tables.as_slice() else {
        return Err(OtsError::param(
            "All rows of an atomic batch must be in one table.",
        ));
    };
    let table = catalog.table(instance, &t.table_name)?;
    let rows = t
        .rows
        .iter()
        .map(decode_row)
        .collect::<OtsResult<Vec<_>>>()?;
    let rows = table.write_rows_atomic(rows)?;
    Ok(encode_response(&pb::BatchWriteRowResponse {
        tables: vec![table_response(&t.table_name, rows)],
    }))
}

/// Handles BatchWriteRow.
pub fn batch_write_row(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::BatchWriteRowRequest = decode_request(body)?;
    check_request(&req)?;
    write_request(catalog, instance, &req)
}

/// Handles BatchWriteRow for an async caller. The common request (no transaction, not
/// atomic) is staged on the caller's thread and its commits awaited without holding one;
/// transactions and atomic batches, which wait on their commit, run on the blocking pool.
pub async fn batch_write_row_async(
    catalog: Arc<Catalog>,
    instance: String,
    body: bytes::Bytes,
) -> OtsResult<Vec<u8>> {
    crate::table::catalog::validate_instance_name(&instance)?;
    let req: pb::BatchWriteRowRequest = decode_request(&body)?;
    check_request(&req)?;
    if req.transaction_id.is_some() || req.is_atomic == Some(true) {
        return tokio::task::spawn_blocking(move || write_request(&catalog, &instance, &req))
            .await
            .map_err(|_| OtsError::internal())?;
    }
    // Every table's rows are staged and their commit queued before any is awaited, so the
    // tables' fsyncs overlap instead of adding up.
    let mut started = Vec::with_capacity(req.tables.len());
    for t in &req.tables {
        started.push(match catalog.table(&instance, &t.table_name) {
            Ok(table) => Started::now(write_table_rows_async(table, &t.rows)),
            Err(e) => Started::Ready(t.rows.iter().map(|_| Err(e.clone())).collect()),
        });
    }
    let mut tables = Vec::with_capacity(req.tables.len());
    for (t, rows) in req.tables.iter().zip(started) {
        tables.push(table_response(&t.table_name, rows.finish().await));
    }
    Ok(encode_response(&pb::BatchWriteRowResponse { tables }))
}

/// A future already polled once, so that its synchronous start (staging rows, queueing
/// their commit) has run; several can then wait for their commits at the same time.
enum Started<F: Future> {
    Ready(F::Output),
    Running(Pin<Box<F>>),
}

impl<F: Future> Started<F> {
    /// Runs `fut` up to its first wait. The waker of that first poll does nothing: `finish`
    /// polls again with the task's own, and a future must honour the latest waker.
    fn now(fut: F) -> Started<F> {
        let mut fut = Box::pin(fut);
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => Started::Ready(output),
            Poll::Pending => Started::Running(fut),
        }
    }

    /// Waits for the rest of the future.
    async fn finish(self) -> F::Output {
        match self {
            Started::Ready(output) => output,
            Started::Running(fut) => fut.await,
        }
    }
}

/// The request-level checks: at least one row in every table, no table twice, and the
/// row count and size limits.
fn check_request(req: &pb::BatchWriteRowRequest) -> OtsResult<()> {
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
    limits::check_write_request_bytes("BatchWriteRow", bytes)
}

/// Writes a checked request, blocking on its commits.
fn write_request(
    catalog: &Catalog,
    instance: &str,
    req: &pb::BatchWriteRowRequest,
) -> OtsResult<Vec<u8>> {
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
    if txn.is_none() && req.is_atomic == Some(true) {
        return atomic_batch_write_row(catalog, instance, req);
    }
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
        };
        tables.push(table_response(&t.table_name, rows));
    }
    Ok(encode_response(&pb::BatchWriteRowResponse { tables }))
}

/// One table's part of the response.
fn table_response(
    table_name: &str,
    rows: Vec<OtsResult<WriteOutcome>>,
) -> pb::TableInBatchWriteRowResponse {
    pb::TableInBatchWriteRowResponse {
        table_name: table_name.to_string(),
        rows: rows.into_iter().map(row_response).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::protocol::plainbuffer::{
        self, Cell, CellOp, ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row,
    };
    use crate::table::schema::{
        CapacityUnits, PkColumnSchema, PkType, TableOptionsPatch, TableSchema,
    };
    use prost::Message as _;

    fn open() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        for name in ["t", "u"] {
            let schema = TableSchema {
                table_name: name.into(),
                primary_key: vec![
                    PkColumnSchema {
                        name: "p".into(),
                        pk_type: PkType::String,
                        auto_increment: false,
                    },
                    PkColumnSchema {
                        name: "s".into(),
                        pk_type: PkType::Integer,
                        auto_increment: false,
                    },
                ],
                defined_columns: vec![],
            };
            catalog
                .create_table(
                    "i",
                    schema,
                    &TableOptionsPatch::default(),
                    CapacityUnits::default(),
                )
                .unwrap();
        }
        (dir, catalog)
    }

    fn pk(p: &str, s: i64) -> Vec<PrimaryKeyColumn> {
        vec![
            PrimaryKeyColumn::new("p", PrimaryKeyValue::String(p.into())),
            PrimaryKeyColumn::new("s", PrimaryKeyValue::Integer(s)),
        ]
    }

    fn row(
        kind: pb::OperationType,
        key: Vec<PrimaryKeyColumn>,
        cells: Vec<Cell>,
        existence: pb::RowExistenceExpectation,
    ) -> pb::RowInBatchWriteRowRequest {
        let change = Row {
            primary_key: key.clone(),
            cells,
            delete_marker: kind == pb::OperationType::Delete,
        };
        pb::RowInBatchWriteRowRequest {
            r#type: kind as i32,
            row_change: match kind {
                pb::OperationType::Delete => plainbuffer::encode_primary_key(&key),
                _ => plainbuffer::encode_row(&change),
            },
            condition: pb::Condition {
                row_existence: existence as i32,
                column_condition: None,
            },
            return_content: None,
        }
    }

    fn put(
        p: &str,
        s: i64,
        v: i64,
        e: pb::RowExistenceExpectation,
    ) -> pb::RowInBatchWriteRowRequest {
        let cells = vec![Cell::put("v", ColumnValue::Integer(v), None)];
        row(pb::OperationType::Put, pk(p, s), cells, e)
    }

    fn incr(p: &str, s: i64) -> pb::RowInBatchWriteRowRequest {
        let cell = Cell {
            op: Some(CellOp::Increment),
            ..Cell::put("v", ColumnValue::Integer(1), None)
        };
        row(
            pb::OperationType::Update,
            pk(p, s),
            vec![cell],
            pb::RowExistenceExpectation::Ignore,
        )
    }

    fn atomic(tables: Vec<(&str, Vec<pb::RowInBatchWriteRowRequest>)>) -> Vec<u8> {
        pb::BatchWriteRowRequest {
            tables: tables
                .into_iter()
                .map(|(name, rows)| pb::TableInBatchWriteRowRequest {
                    table_name: name.into(),
                    rows,
                })
                .collect(),
            transaction_id: None,
            is_atomic: Some(true),
        }
        .encode_to_vec()
    }

    fn value(catalog: &Catalog, p: &str, s: i64) -> Option<i64> {
        let body = pb::GetRowRequest {
            table_name: "t".into(),
            primary_key: plainbuffer::encode_primary_key(&pk(p, s)),
            max_versions: Some(1),
            ..Default::default()
        };
        let resp = crate::api::handle(catalog, crate::api::Api::GetRow, "i", &body.encode_to_vec());
        let resp = pb::GetRowResponse::decode(&resp.unwrap()[..]).unwrap();
        if resp.row.is_empty() {
            return None;
        }
        match plainbuffer::decode_row(&resp.row).unwrap().cells[0].value {
            Some(ColumnValue::Integer(v)) => Some(v),
            _ => None,
        }
    }

    fn results(body: Vec<u8>) -> Vec<(bool, String, String)> {
        pb::BatchWriteRowResponse::decode(&body[..]).unwrap().tables[0]
            .rows
            .iter()
            .map(|r| {
                let e = r.error.clone().unwrap_or_default();
                (r.is_ok, e.code, e.message.unwrap_or_default())
            })
            .collect()
    }

    const IGNORE: pb::RowExistenceExpectation = pb::RowExistenceExpectation::Ignore;
    const EXIST: pb::RowExistenceExpectation = pb::RowExistenceExpectation::ExpectExist;

    #[test]
    fn a_counter_row_may_be_written_only_once_per_batch() {
        let (_dir, catalog) = open();
        let body = pb::BatchWriteRowRequest {
            tables: vec![pb::TableInBatchWriteRowRequest {
                table_name: "t".into(),
                rows: vec![
                    incr("a", 1),
                    put("a", 1, 5, IGNORE),
                    incr("a", 2),
                    put("a", 3, 30, IGNORE),
                    put("a", 3, 31, IGNORE),
                ],
            }],
            ..Default::default()
        };
        let got = results(batch_write_row(&catalog, "i", &body.encode_to_vec()).unwrap());
        let oks: Vec<bool> = got.iter().map(|(ok, _, _)| *ok).collect();
        assert_eq!(oks, [false, false, true, true, true], "{got:?}");
        assert_eq!(got[0].1, "OTSParameterInvalid");
        assert!(got[1].2.contains("atomic counter"), "{}", got[1].2);
        assert_eq!(
            [
                value(&catalog, "a", 1),
                value(&catalog, "a", 2),
                value(&catalog, "a", 3)
            ],
            [None, Some(1), Some(31)],
            "refused rows change nothing; a row without a counter may repeat"
        );
    }

    #[test]
    fn an_atomic_batch_applies_every_row() {
        let (_dir, catalog) = open();
        let body = atomic(vec![(
            "t",
            vec![
                put("a", 1, 10, IGNORE),
                incr("a", 2),
                put("a", 3, 30, IGNORE),
            ],
        )]);
        let got = results(batch_write_row(&catalog, "i", &body).unwrap());
        assert!(got.iter().all(|(ok, _, _)| *ok), "{got:?}");
        assert_eq!(
            [
                value(&catalog, "a", 1),
                value(&catalog, "a", 2),
                value(&catalog, "a", 3)
            ],
            [Some(10), Some(1), Some(30)]
        );
    }

    #[test]
    fn one_failing_row_leaves_the_whole_atomic_batch_unapplied() {
        let (_dir, catalog) = open();
        let body = atomic(vec![(
            "t",
            vec![
                put("a", 1, 10, IGNORE),
                put("a", 2, 20, EXIST),
                incr("a", 3),
            ],
        )]);
        let got = results(batch_write_row(&catalog, "i", &body).unwrap());
        assert!(
            got.iter()
                .all(|(ok, code, _)| !ok && code == "OTSConditionCheckFail"),
            "{got:?}"
        );
        assert_eq!(got[1].2, "Condition check failed.");
        assert!(got[0].2.contains("row 1 failed"), "{got:?}");
        assert_eq!(
            [value(&catalog, "a", 1), value(&catalog, "a", 3)],
            [None, None]
        );
    }

    #[test]
    fn atomic_batches_must_stay_in_one_table_and_partition_and_touch_rows_once() {
        let (_dir, catalog) = open();
        let refused = |body: Vec<u8>| {
            let e = batch_write_row(&catalog, "i", &body).unwrap_err();
            assert_eq!(e.code, ErrorCode::ParameterInvalid);
            e.message
        };
        let m = refused(atomic(vec![(
            "t",
            vec![put("a", 1, 1, IGNORE), put("b", 1, 1, IGNORE)],
        )]));
        assert!(m.contains("partition key"), "{m}");
        let m = refused(atomic(vec![
            ("t", vec![put("a", 1, 1, IGNORE)]),
            ("u", vec![put("a", 1, 1, IGNORE)]),
        ]));
        assert!(m.contains("one table"), "{m}");
        let m = refused(atomic(vec![(
            "t",
            vec![put("a", 1, 1, IGNORE), incr("a", 1)],
        )]));
        assert!(m.contains("same row twice"), "{m}");
        assert_eq!(value(&catalog, "a", 1), None);
    }

    #[test]
    fn a_started_future_runs_to_its_first_wait_at_once_and_finishes_when_awaited() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let ready = Started::now(async { 7 });
            assert!(matches!(ready, Started::Ready(7)));

            let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
            let reached = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let seen = Arc::clone(&reached);
            let waiting = Started::now(async move {
                seen.store(true, std::sync::atomic::Ordering::SeqCst);
                rx.await.unwrap() + 1
            });
            // The synchronous start ran before anything awaited it.
            assert!(reached.load(std::sync::atomic::Ordering::SeqCst));
            assert!(matches!(waiting, Started::Running(_)));
            // Woken through the task's waker, not the first poll's no-op one.
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                tx.send(41).unwrap();
            });
            assert_eq!(waiting.finish().await, 42);
        });
    }
}
