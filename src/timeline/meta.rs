//! The meta table (`id` STRING, `item` STRING): conversation rows (`conv/<id>`, `meta`) with
//! members and mode, pull memberships (`pulls/<user>`, `<conv>`) that `sync` lists, and the
//! dedup rows of `send` (`dedup/<conv>`, `<client_msg_id>`).

use super::push::Companion;
use super::{now_ms, Conversation, Mode, Result, RowView, Timeline, TimelineError};
use crate::client::{Condition, RowWrite};
use crate::protocol::pb;
use crate::protocol::plainbuffer::{
    encode_value, Cell, ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row,
};
use prost::Message as _;

/// First primary-key column of the meta table.
pub const PK_ID: &str = "id";
/// Second primary-key column of the meta table.
pub const PK_ITEM: &str = "item";

const COL_MEMBERS: &str = "members";
const COL_MODE: &str = "mode";
const COL_CLAIMED_MS: &str = "claimed_ms";
const COL_STORE_SEQ: &str = "store_seq";
const COL_FANOUT_DONE: &str = "fanout_done";

fn meta_pk(id: String, item: PrimaryKeyValue) -> Vec<PrimaryKeyColumn> {
    vec![
        PrimaryKeyColumn::new(PK_ID, PrimaryKeyValue::String(id)),
        PrimaryKeyColumn::new(PK_ITEM, item),
    ]
}

fn conversation_pk(conv: &str) -> Vec<PrimaryKeyColumn> {
    meta_pk(
        format!("conv/{conv}"),
        PrimaryKeyValue::String("meta".into()),
    )
}

fn pulls_id(user: &str) -> String {
    format!("pulls/{user}")
}

fn dedup_pk(conv: &str, client_msg_id: &str) -> Vec<PrimaryKeyColumn> {
    meta_pk(
        format!("dedup/{conv}"),
        PrimaryKeyValue::String(client_msg_id.to_string()),
    )
}

/// The dedup record of one `(conversation, client_msg_id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupRecord {
    /// When the first attempt claimed it (ms).
    pub claimed_ms: i64,
    /// The StoreTable seq id, once stored and recorded.
    pub store_seq: Option<i64>,
    /// Whether the fan-out completed.
    pub fanout_done: bool,
}

/// The outcome of claiming a client message id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This attempt is the first: nothing was stored yet.
    Won {
        /// The claim time written.
        claimed_ms: i64,
    },
    /// An earlier attempt claimed it; here is what it recorded.
    Existing(DedupRecord),
}

impl Timeline {
    /// Records a conversation with `members`; `mode` `None` picks [`Mode::Pull`] above the
    /// read-expansion threshold and [`Mode::Push`] otherwise. Pull conversations are also
    /// listed under each member for `sync`. Re-creating replaces members and mode.
    ///
    /// # Errors
    /// Invalid ids (empty, or containing `/`), or a request failed.
    pub async fn create_conversation(
        &self,
        id: &str,
        members: &[String],
        mode: Option<Mode>,
    ) -> Result<Conversation> {
        if id.is_empty() || members.is_empty() {
            return Err(TimelineError::Invalid(
                "a conversation needs an id and at least one member".into(),
            ));
        }
        let mode = mode.unwrap_or(if members.len() > self.config.read_expansion_threshold {
            Mode::Pull
        } else {
            Mode::Push
        });
        let conversation = Conversation {
            id: id.to_string(),
            members: members.to_vec(),
            mode,
        };
        if mode == Mode::Pull {
            let table = &self.config.meta_table;
            for chunk in members.chunks(self.config.batch_rows) {
                let writes: Vec<RowWrite> = chunk
                    .iter()
                    .map(|user| {
                        let row = Row {
                            primary_key: meta_pk(
                                pulls_id(user),
                                PrimaryKeyValue::String(id.to_string()),
                            ),
                            cells: vec![Cell::put(
                                COL_MODE,
                                ColumnValue::String("pull".into()),
                                None,
                            )],
                            delete_marker: false,
                        };
                        RowWrite::Put(row, Condition::ignore())
                    })
                    .collect();
                for result in self.client.batch_write(table, &writes).await? {
                    result.map_err(|e| {
                        TimelineError::Client(crate::client::ClientError::Service {
                            api: "BatchWriteRow".into(),
                            error: e,
                        })
                    })?;
                }
            }
        }
        let members_json = serde_json::to_string(members)
            .map_err(|e| TimelineError::Invalid(format!("members: {e}")))?;
        let row = Row {
            primary_key: conversation_pk(id),
            cells: vec![
                Cell::put(COL_MEMBERS, ColumnValue::String(members_json), None),
                Cell::put(COL_MODE, ColumnValue::String(mode.as_str().into()), None),
            ],
            delete_marker: false,
        };
        self.client
            .put(
                &self.config.meta_table,
                &row,
                Condition::ignore(),
                pb::ReturnType::RtNone,
            )
            .await?;
        Ok(conversation)
    }

    /// The conversation `id` as recorded.
    ///
    /// # Errors
    /// `NoSuchConversation`, a failed request or a malformed row.
    pub async fn conversation(&self, id: &str) -> Result<Conversation> {
        let table = &self.config.meta_table;
        let row = self
            .client
            .get(table, &conversation_pk(id), &[])
            .await?
            .ok_or_else(|| TimelineError::NoSuchConversation(id.to_string()))?;
        let view = RowView { table, row: &row };
        let members: Vec<String> =
            serde_json::from_str(view.string(COL_MEMBERS)?).map_err(|e| {
                TimelineError::MalformedRow {
                    table: table.clone(),
                    what: format!("column {COL_MEMBERS}: {e}"),
                }
            })?;
        let mode_text = view.string(COL_MODE)?;
        let mode = Mode::parse(mode_text).ok_or_else(|| TimelineError::MalformedRow {
            table: table.clone(),
            what: format!("column {COL_MODE}: unknown mode '{mode_text}'"),
        })?;
        Ok(Conversation {
            id: id.to_string(),
            members,
            mode,
        })
    }

    /// The read-expansion conversations `user` belongs to, in id order.
    ///
    /// # Errors
    /// A request failed or a row is malformed.
    pub async fn pull_conversations(&self, user: &str) -> Result<Vec<String>> {
        let table = &self.config.meta_table;
        let rows = self
            .client
            .range_all(
                table,
                &meta_pk(pulls_id(user), PrimaryKeyValue::InfMin),
                &meta_pk(pulls_id(user), PrimaryKeyValue::InfMax),
                pb::Direction::Forward,
            )
            .await?;
        rows.iter()
            .map(|row| {
                RowView { table, row }
                    .pk_string(PK_ITEM)
                    .map(str::to_string)
            })
            .collect()
    }

    /// Claims `(conv, client_msg_id)` with an EXPECT_NOT_EXIST PutRow, or reads the record
    /// of the attempt that claimed it first.
    ///
    /// # Errors
    /// A request failed or the record is malformed.
    pub async fn claim(&self, conv: &str, client_msg_id: &str) -> Result<Claim> {
        let table = &self.config.meta_table;
        let claimed_ms = now_ms();
        let row = claim_row(conv, client_msg_id, claimed_ms);
        match self
            .client
            .put(
                table,
                &row,
                Condition::expect_not_exist(),
                pb::ReturnType::RtNone,
            )
            .await
        {
            Ok(_) => return Ok(Claim::Won { claimed_ms }),
            Err(e) if e.is_condition_check_fail() => {}
            Err(e) => return Err(e.into()),
        }
        let row = self
            .client
            .get(table, &dedup_pk(conv, client_msg_id), &[])
            .await?
            .ok_or_else(|| TimelineError::MalformedRow {
                table: table.clone(),
                what: format!("dedup row of {conv}/{client_msg_id} vanished after its claim"),
            })?;
        let view = RowView { table, row: &row };
        Ok(Claim::Existing(DedupRecord {
            claimed_ms: view.integer(COL_CLAIMED_MS)?,
            store_seq: match view.cell(COL_STORE_SEQ) {
                None => None,
                Some(_) => Some(view.integer(COL_STORE_SEQ)?),
            },
            fanout_done: matches!(view.cell(COL_FANOUT_DONE), Some(ColumnValue::Boolean(true))),
        }))
    }

    /// Takes over the unfinished claim of `(conv, client_msg_id)` that was read with
    /// `seen_claimed_ms`: a conditional UpdateRow setting a newer `claimed_ms`, which succeeds
    /// for exactly one of several racing callers. Returns whether this caller won.
    ///
    /// # Errors
    /// A failed request (a lost race is `Ok(false)`, not an error).
    pub async fn take_over_claim(
        &self,
        conv: &str,
        client_msg_id: &str,
        seen_claimed_ms: i64,
    ) -> Result<bool> {
        // Strictly newer, so that a second taker holding the old value always loses.
        let claimed_ms = now_ms().max(seen_claimed_ms.saturating_add(1));
        let row = claim_row(conv, client_msg_id, claimed_ms);
        let condition = Condition {
            row_existence: pb::RowExistenceExpectation::ExpectExist,
            column_condition: Some(integer_equals(COL_CLAIMED_MS, seen_claimed_ms)),
        };
        match self
            .client
            .update(
                &self.config.meta_table,
                &row,
                condition,
                pb::ReturnType::RtNone,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_condition_check_fail() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Records the StoreTable seq id (and optionally fan-out completion) on the dedup row.
    ///
    /// # Errors
    /// A request failed.
    pub async fn record_send(
        &self,
        conv: &str,
        client_msg_id: &str,
        store_seq: i64,
        fanout_done: bool,
    ) -> Result<()> {
        let row = record_row(conv, client_msg_id, store_seq, fanout_done);
        self.client
            .update(
                &self.config.meta_table,
                &row,
                Condition::ignore(),
                pb::ReturnType::RtNone,
            )
            .await?;
        Ok(())
    }

    /// [`Timeline::record_send`] as a write that rides along in a fan-out request.
    pub(crate) fn record_companion(
        &self,
        conv: &str,
        client_msg_id: &str,
        store_seq: i64,
    ) -> Companion {
        Companion {
            table: self.config.meta_table.clone(),
            write: RowWrite::Update(
                record_row(conv, client_msg_id, store_seq, false),
                Condition::ignore(),
            ),
        }
    }
}

/// The dedup row's update recording `store_seq` (and `fanout_done` when set).
fn record_row(conv: &str, client_msg_id: &str, store_seq: i64, fanout_done: bool) -> Row {
    let mut cells = vec![Cell::put(
        COL_STORE_SEQ,
        ColumnValue::Integer(store_seq),
        None,
    )];
    if fanout_done {
        cells.push(Cell::put(COL_FANOUT_DONE, ColumnValue::Boolean(true), None));
    }
    Row {
        primary_key: dedup_pk(conv, client_msg_id),
        cells,
        delete_marker: false,
    }
}

/// The dedup row's claim: `claimed_ms` of the attempt that owns the send.
fn claim_row(conv: &str, client_msg_id: &str, claimed_ms: i64) -> Row {
    Row {
        primary_key: dedup_pk(conv, client_msg_id),
        cells: vec![Cell::put(
            COL_CLAIMED_MS,
            ColumnValue::Integer(claimed_ms),
            None,
        )],
        delete_marker: false,
    }
}

/// A serialized column condition: `column == value` on the newest version, failing when the
/// column is missing.
fn integer_equals(column: &str, value: i64) -> Vec<u8> {
    let single = pb::SingleColumnValueFilter {
        comparator: pb::ComparatorType::CtEqual as i32,
        column_name: column.to_string(),
        column_value: encode_value(&ColumnValue::Integer(value)),
        filter_if_missing: true,
        latest_version_only: true,
        value_trans_rule: None,
    };
    pb::Filter {
        r#type: pb::FilterType::FtSingleColumnValue as i32,
        filter: single.encode_to_vec(),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_keys_keep_kinds_apart() {
        let conv = conversation_pk("g1");
        let dedup = dedup_pk("g1", "m1");
        assert_ne!(conv[0].value, dedup[0].value);
        assert_eq!(pulls_id("u1"), "pulls/u1");
        assert_eq!(dedup[1].value, PrimaryKeyValue::String("m1".into()));
    }
}
