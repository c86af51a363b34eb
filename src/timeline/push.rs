//! The PushTable: one sync queue per receiver (`user_id`, `seq_id` AUTO_INCREMENT, short TTL).
//! Fan-out writes a message into many queues with parallel BatchWriteRow chunks and retries
//! the rows that failed; reads page forward from a device's checkpoint; the re-drive check of
//! a retried send looks for one message in a queue's tail.

use std::time::Duration;

use super::envelope::Envelope;
use super::{now_ms, Message, Result, RowView, Timeline, TimelineError, SEQ_COLUMN};
use crate::client::{Condition, RowWrite};
use crate::protocol::pb;
use crate::protocol::plainbuffer::{
    encode_row_with_cells, Cell, ColumnValue, EncodedCells, PkValueRef, PrimaryKeyColumn,
    PrimaryKeyValue, Row,
};

/// The partition-key column of the PushTable.
pub const PK_USER: &str = "user_id";
/// System column of push rows: the message's [`Envelope`] (conversation, store seq id,
/// sender, client message id, send and push times) in one BINARY cell.
pub const COL_ENVELOPE: &str = "_env";

/// First pause before re-sending rows that failed inside a batch; doubled per round.
const ROW_RETRY_BASE: Duration = Duration::from_millis(20);

/// The PushTable primary key of `user` at `seq`.
pub fn push_pk(user: &str, seq: PrimaryKeyValue) -> Vec<PrimaryKeyColumn> {
    vec![
        PrimaryKeyColumn::new(PK_USER, PrimaryKeyValue::String(user.to_string())),
        PrimaryKeyColumn::new(SEQ_COLUMN, seq),
    ]
}

/// The sync-queue row that delivers `msg` to `user`, written at `push_ms`; cells may carry
/// an explicit version `timestamp_ms` (tests of TTL expiry), else the server's clock.
pub fn push_row(user: &str, msg: &Message, push_ms: i64, timestamp_ms: Option<i64>) -> Row {
    Row {
        primary_key: push_pk(user, PrimaryKeyValue::AutoIncrement),
        cells: push_cells(msg, push_ms, timestamp_ms),
        delete_marker: false,
    }
}

/// The cells of every push row of `msg`: one, its envelope, which packs the caller's columns
/// too (see `envelope.rs`).
fn push_cells(msg: &Message, push_ms: i64, timestamp_ms: Option<i64>) -> Vec<Cell> {
    let envelope = Envelope {
        conversation: msg.conversation.clone(),
        store_seq: msg.seq_id,
        sender: msg.sender.clone(),
        client_msg_id: msg.client_msg_id.clone(),
        sent_ms: msg.sent_ms,
        push_ms,
        columns: msg.columns.clone(),
    };
    vec![Cell::put(
        COL_ENVELOPE,
        ColumnValue::Binary(envelope.encode()),
        timestamp_ms,
    )]
}

/// The BatchWriteRow entry that writes `cells` into `user`'s sync queue at a new seq id.
fn push_write(user: &str, cells: &EncodedCells) -> RowWrite {
    let pk = [
        (PK_USER, PkValueRef::String(user)),
        (SEQ_COLUMN, PkValueRef::AutoIncrement),
    ];
    RowWrite::PutEncoded(encode_row_with_cells(pk, cells), Condition::ignore())
}

/// The envelope of a PushTable row.
fn envelope(table: &str, row: &Row) -> Result<Envelope> {
    let view = RowView { table, row };
    let malformed = |what: String| TimelineError::MalformedRow {
        table: table.to_string(),
        what,
    };
    match view.cell(COL_ENVELOPE) {
        Some(ColumnValue::Binary(bytes)) => {
            Envelope::decode(bytes).map_err(|e| malformed(format!("column {COL_ENVELOPE}: {e}")))
        }
        other => Err(malformed(format!(
            "column {COL_ENVELOPE}: expected BINARY, got {other:?}"
        ))),
    }
}

/// A PushTable row as `(queue seq id, message)`.
pub(crate) fn push_message(table: &str, row: &Row) -> Result<(i64, Message)> {
    let view = RowView { table, row };
    let seq = view.pk_integer(SEQ_COLUMN)?;
    let envelope = envelope(table, row)?;
    Ok((
        seq,
        Message {
            conversation: envelope.conversation,
            seq_id: envelope.store_seq,
            sender: envelope.sender,
            client_msg_id: envelope.client_msg_id,
            sent_ms: envelope.sent_ms,
            // Packed in the envelope; rows written before that carry them as cells.
            columns: if envelope.columns.is_empty() {
                view.user_columns()
            } else {
                envelope.columns
            },
        },
    ))
}

/// A write to another table that rides along in the first request of a fan-out (the send's
/// dedup record), so it costs no round trip of its own. Retried with the push rows.
#[derive(Debug, Clone)]
pub(crate) struct Companion {
    /// The table written.
    pub table: String,
    /// The write; it must be idempotent, since a failed row is sent again.
    pub write: RowWrite,
}

impl Timeline {
    /// Writes `msg` into the sync queue of every user in `receivers`: BatchWriteRow chunks of
    /// at most `batch_rows` rows, all chunks in parallel, rows that failed inside a batch
    /// re-sent up to `row_retries` times. Returns the rows written.
    ///
    /// # Errors
    /// A whole request failed (after the client's retries), or rows still failed after
    /// every retry (`FanOutFailed`). Rows of other chunks may have been written.
    pub async fn fan_out(&self, msg: &Message, receivers: &[String]) -> Result<usize> {
        self.fan_out_with(msg, receivers, None).await
    }

    /// [`Timeline::fan_out`], with `companion` written in the first chunk's requests.
    pub(crate) async fn fan_out_with(
        &self,
        msg: &Message,
        receivers: &[String],
        companion: Option<Companion>,
    ) -> Result<usize> {
        // Every copy carries the same cells: encode them once, then only each key per row.
        let cells = EncodedCells::new(&push_cells(msg, now_ms(), None));
        let writes = |users: &[String]| users.iter().map(|u| push_write(u, &cells)).collect();
        // The companion rides in the first request, so that one leaves it a row of the limit.
        let first = match companion {
            Some(_) => receivers.len().min(self.config.batch_rows - 1),
            None => 0,
        };
        let (head, rest) = receivers.split_at(first);
        let mut chunks: Vec<Vec<RowWrite>> = Vec::new();
        if companion.is_some() {
            chunks.push(writes(head));
        }
        chunks.extend(rest.chunks(self.config.batch_rows).map(writes));
        let mut companion = companion;
        let mut tasks = tokio::task::JoinSet::new();
        for writes in chunks {
            let timeline = self.clone();
            let (conv, seq) = (msg.conversation.clone(), msg.seq_id);
            let extra = companion.take();
            tasks.spawn(async move { timeline.write_chunk(writes, extra, &conv, seq).await });
        }
        let mut written = 0;
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(n)) => written += n,
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(join) => {
                    first_error.get_or_insert(TimelineError::Invalid(format!(
                        "fan-out task failed: {join}"
                    )));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }

    /// Writes one chunk (and the companion write, if any, in the same requests), re-sending
    /// failed rows with backoff; returns the push rows written.
    pub(crate) async fn write_chunk(
        &self,
        writes: Vec<RowWrite>,
        mut companion: Option<Companion>,
        conv: &str,
        seq: i64,
    ) -> Result<usize> {
        let table = self.config.push_table.as_str();
        let total = writes.len();
        let mut pending = writes;
        let mut round = 0u32;
        loop {
            let mut request: Vec<(&str, &[RowWrite])> = Vec::with_capacity(2);
            if !pending.is_empty() {
                request.push((table, &pending));
            }
            if let Some(c) = &companion {
                request.push((c.table.as_str(), std::slice::from_ref(&c.write)));
            }
            if request.is_empty() {
                return Ok(total);
            }
            let mut results = self.client.batch_write_tables(&request).await?.into_iter();
            let push_results = if pending.is_empty() {
                Vec::new()
            } else {
                results.next().unwrap_or_default()
            };
            let mut last = None;
            if companion.is_some() {
                match results.next().and_then(|r| r.into_iter().next()) {
                    Some(Ok(())) => companion = None,
                    Some(Err(e)) => last = Some(format!("{}: {}", e.code, e.message)),
                    None => last = Some("no result for the dedup record".to_string()),
                }
            }
            let failed: Vec<RowWrite> = pending
                .into_iter()
                .zip(push_results)
                .filter_map(|(write, result)| match result {
                    Ok(()) => None,
                    Err(e) => {
                        last = Some(format!("{}: {}", e.code, e.message));
                        Some(write)
                    }
                })
                .collect();
            let failed_rows = failed.len() + usize::from(companion.is_some());
            if failed_rows == 0 {
                return Ok(total);
            }
            if round >= self.config.row_retries {
                return Err(TimelineError::FanOutFailed {
                    conversation: conv.to_string(),
                    seq_id: seq,
                    failed: failed_rows,
                    last: last.unwrap_or_default(),
                });
            }
            tracing::debug!(
                conv,
                seq,
                failed = failed_rows,
                round,
                "re-sending fan-out rows"
            );
            tokio::time::sleep(ROW_RETRY_BASE.saturating_mul(1 << round.min(8))).await;
            round += 1;
            pending = failed;
        }
    }

    /// Up to `max` entries of `user`'s sync queue after `after` (exclusive), oldest first, as
    /// `(queue seq id, message)`, and whether the queue may hold more.
    ///
    /// # Errors
    /// A request failed or a row is malformed.
    pub async fn push_read(
        &self,
        user: &str,
        after: i64,
        max: usize,
    ) -> Result<(Vec<(i64, Message)>, bool)> {
        let table = &self.config.push_table;
        let from = push_pk(user, PrimaryKeyValue::Integer(after.saturating_add(1)));
        let to = push_pk(user, PrimaryKeyValue::InfMax);
        self.read_pages(table, from, &to, pb::Direction::Forward, max, |row| {
            push_message(table, row)
        })
        .await
    }

    /// Whether `user`'s sync queue holds the copy of `conv`#`store_seq`, looking back from
    /// the tail until rows pushed before `since_ms` minus [`super::REDRIVE_SKEW_MS`].
    ///
    /// # Errors
    /// A request failed or a row is malformed.
    pub async fn push_contains(
        &self,
        user: &str,
        conv: &str,
        store_seq: i64,
        since_ms: i64,
    ) -> Result<bool> {
        let table = &self.config.push_table;
        let horizon = since_ms.saturating_sub(super::REDRIVE_SKEW_MS);
        let mut from = push_pk(user, PrimaryKeyValue::InfMax);
        let to = push_pk(user, PrimaryKeyValue::InfMin);
        let limit = i32::try_from(self.config.page_size.max(100)).ok();
        loop {
            let page = self
                .client
                .range(table, &from, &to, pb::Direction::Backward, limit)
                .await?;
            for row in &page.rows {
                let envelope = envelope(table, row)?;
                if envelope.store_seq == store_seq && envelope.conversation == conv {
                    return Ok(true);
                }
                if envelope.push_ms < horizon {
                    return Ok(false);
                }
            }
            match page.next_start {
                Some(next) => from = next,
                None => return Ok(false),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            conversation: "g1".into(),
            seq_id: 9,
            sender: "bob".into(),
            client_msg_id: "m-9".into(),
            sent_ms: 1000,
            columns: vec![("text".into(), ColumnValue::String("yo".into()))],
        }
    }

    #[test]
    fn push_rows_round_trip_the_message() {
        let row = push_row("alice", &message(), 1234, None);
        assert_eq!(row.primary_key[1].value, PrimaryKeyValue::AutoIncrement);
        let mut stored = row.clone();
        stored.primary_key[1].value = PrimaryKeyValue::Integer(77);
        let (seq, m) = push_message("p", &stored).expect("valid");
        assert_eq!(seq, 77);
        assert_eq!(m, message());
    }

    #[test]
    fn fan_out_writes_carry_exactly_the_push_row() {
        let cells = EncodedCells::new(&push_cells(&message(), 1234, None));
        let row = push_row("alice", &message(), 1234, None);
        assert_eq!(
            push_write("alice", &cells),
            RowWrite::PutEncoded(
                crate::protocol::plainbuffer::encode_row(&row),
                Condition::ignore()
            )
        );
    }

    #[test]
    fn a_push_row_is_one_cell_and_rows_with_column_cells_still_read() {
        let row = push_row("alice", &message(), 1234, None);
        assert_eq!(row.cells.len(), 1, "{row:?}");
        // A row written before the columns were packed: version-1 envelope, a cell per column.
        // Store seq, send and push times; conversation, sender, client message id.
        let v1 = crate::timeline::envelope::encode_v1([9, 1000, 1234], ["g1", "bob", "m-9"]);
        let old = Row {
            primary_key: push_pk("alice", PrimaryKeyValue::Integer(3)),
            cells: vec![
                Cell::put(COL_ENVELOPE, ColumnValue::Binary(v1), None),
                Cell::put("text", ColumnValue::String("yo".into()), None),
            ],
            delete_marker: false,
        };
        assert_eq!(push_message("p", &old).expect("valid"), (3, message()));
    }

    #[test]
    fn explicit_timestamps_reach_every_cell() {
        let row = push_row("alice", &message(), 1, Some(5000));
        assert!(row.cells.iter().all(|c| c.timestamp == Some(5000)));
    }
}
