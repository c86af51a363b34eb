//! The StoreTable: one queue per conversation (`conv_id`, `seq_id` AUTO_INCREMENT) holding
//! every message once, for history and read-expansion. Appends return the generated seq id;
//! reads page forward (sync of pull conversations) or backward (history).

use super::{Message, Result, RowView, Timeline, TimelineError, SEQ_COLUMN};
use crate::client::Condition;
use crate::protocol::pb;
use crate::protocol::plainbuffer::{Cell, ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row};

/// The partition-key column of the StoreTable.
pub const PK_CONV: &str = "conv_id";
/// System column: sender user id.
pub const COL_SENDER: &str = "_sender";
/// System column: the sender's client message id.
pub const COL_CMID: &str = "_cmid";
/// System column: send time in ms.
pub const COL_SENT_MS: &str = "_sent_ms";

/// The StoreTable primary key of `conv` at `seq`.
pub fn store_pk(conv: &str, seq: PrimaryKeyValue) -> Vec<PrimaryKeyColumn> {
    vec![
        PrimaryKeyColumn::new(PK_CONV, PrimaryKeyValue::String(conv.to_string())),
        PrimaryKeyColumn::new(SEQ_COLUMN, seq),
    ]
}

/// A seq id bound: `Some(n)` → `n`, `None` → the open end given.
pub(crate) fn seq_bound(seq: Option<i64>, open: PrimaryKeyValue) -> PrimaryKeyValue {
    seq.map_or(open, PrimaryKeyValue::Integer)
}

/// The system cells every message row carries.
pub(crate) fn message_cells(sender: &str, cmid: &str, sent_ms: i64) -> Vec<Cell> {
    vec![
        Cell::put(COL_SENDER, ColumnValue::String(sender.to_string()), None),
        Cell::put(COL_CMID, ColumnValue::String(cmid.to_string()), None),
        Cell::put(COL_SENT_MS, ColumnValue::Integer(sent_ms), None),
    ]
}

impl Timeline {
    /// Appends one message to `conv`'s StoreTable queue (PutRow with the AUTO_INCREMENT
    /// placeholder and RT_PK) and returns its seq id.
    ///
    /// # Errors
    /// The request failed or the answer lacks the generated key.
    pub async fn store_append(
        &self,
        conv: &str,
        sender: &str,
        client_msg_id: &str,
        sent_ms: i64,
        user_cells: Vec<Cell>,
    ) -> Result<i64> {
        let table = &self.config.store_table;
        let mut cells = message_cells(sender, client_msg_id, sent_ms);
        cells.extend(user_cells);
        let row = Row {
            primary_key: store_pk(conv, PrimaryKeyValue::AutoIncrement),
            cells,
            delete_marker: false,
        };
        let returned = self
            .client
            .put(table, &row, Condition::ignore(), pb::ReturnType::RtPk)
            .await?
            .ok_or_else(|| TimelineError::MalformedRow {
                table: table.clone(),
                what: "PutRow with RT_PK returned no primary key".into(),
            })?;
        RowView {
            table,
            row: &returned,
        }
        .pk_integer(SEQ_COLUMN)
    }

    /// The message at `seq` of `conv`, if stored (and not expired).
    ///
    /// # Errors
    /// The request failed or the row is malformed.
    pub async fn store_get(&self, conv: &str, seq: i64) -> Result<Option<Message>> {
        let table = &self.config.store_table;
        let row = self
            .client
            .get(table, &store_pk(conv, PrimaryKeyValue::Integer(seq)), &[])
            .await?;
        row.map(|row| store_message(table, conv, &row)).transpose()
    }

    /// Up to `max` messages of `conv` from `start` toward `end` (seq bounds, `None` = open),
    /// in `direction`, following GetRange pages of at most `page_size` rows.
    ///
    /// # Errors
    /// A request failed or a row is malformed.
    pub async fn store_range(
        &self,
        conv: &str,
        start: Option<i64>,
        end: Option<i64>,
        direction: pb::Direction,
        max: usize,
    ) -> Result<Vec<Message>> {
        let table = &self.config.store_table;
        let (open_start, open_end) = match direction {
            pb::Direction::Forward => (PrimaryKeyValue::InfMin, PrimaryKeyValue::InfMax),
            pb::Direction::Backward => (PrimaryKeyValue::InfMax, PrimaryKeyValue::InfMin),
        };
        let from = store_pk(conv, seq_bound(start, open_start));
        let to = store_pk(conv, seq_bound(end, open_end));
        let (mut out, _more) = self
            .read_pages(table, from, &to, direction, max, |row| {
                store_message(table, conv, row)
            })
            .await?;
        out.truncate(max);
        Ok(out)
    }

    /// The seq id of the message with `client_msg_id` among the newest `scan_rows` messages
    /// of `conv` (recovery of a send that crashed between store and record).
    ///
    /// # Errors
    /// A request failed or a row is malformed.
    pub async fn store_find_client_msg_id(
        &self,
        conv: &str,
        client_msg_id: &str,
        scan_rows: usize,
    ) -> Result<Option<i64>> {
        let tail = self
            .store_range(conv, None, None, pb::Direction::Backward, scan_rows)
            .await?;
        Ok(tail
            .into_iter()
            .find(|m| m.client_msg_id == client_msg_id)
            .map(|m| m.seq_id))
    }
}

/// A StoreTable row as a message of `conv`.
pub(crate) fn store_message(table: &str, conv: &str, row: &Row) -> Result<Message> {
    let view = RowView { table, row };
    Ok(Message {
        conversation: conv.to_string(),
        seq_id: view.pk_integer(SEQ_COLUMN)?,
        sender: view.string(COL_SENDER)?.to_string(),
        client_msg_id: view.string(COL_CMID)?.to_string(),
        sent_ms: view.integer(COL_SENT_MS)?,
        columns: view.user_columns(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_rows_decode_into_messages_without_system_columns() {
        let mut cells = message_cells("alice", "c-1", 42);
        cells.push(Cell::put("text", ColumnValue::String("hi".into()), None));
        let row = Row {
            primary_key: store_pk("conv", PrimaryKeyValue::Integer(7)),
            cells,
            delete_marker: false,
        };
        let m = store_message("s", "conv", &row).expect("valid row");
        assert_eq!((m.seq_id, m.sender.as_str(), m.sent_ms), (7, "alice", 42));
        assert_eq!(m.client_msg_id, "c-1");
        assert_eq!(m.text("text"), Some("hi"));
        assert_eq!(m.columns.len(), 1);
    }

    #[test]
    fn a_store_row_without_sender_is_malformed() {
        let row = Row {
            primary_key: store_pk("conv", PrimaryKeyValue::Integer(1)),
            cells: Vec::new(),
            delete_marker: false,
        };
        let err = store_message("s", "conv", &row).expect_err("malformed");
        assert!(err.to_string().contains(COL_SENDER), "{err}");
    }

    #[test]
    fn open_bounds_use_the_infinite_values() {
        assert_eq!(
            seq_bound(None, PrimaryKeyValue::InfMax),
            PrimaryKeyValue::InfMax
        );
        assert_eq!(
            seq_bound(Some(3), PrimaryKeyValue::InfMax),
            PrimaryKeyValue::Integer(3)
        );
    }
}
