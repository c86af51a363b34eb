//! The Timeline model for IM on the async client: a conversation's history queue in the
//! StoreTable (`store.rs`), each user's sync queue in the PushTable (`push.rs`), conversation
//! metadata and send dedup records in a small meta table (`meta.rs`), and the three
//! operations `send` (`send.rs`), `sync` and `history` (`sync.rs`). TIMELINE.md has the model.
//!
//! # Tables
//! | table | primary key | options |
//! |---|---|---|
//! | StoreTable `<prefix>_store` | `conv_id` STRING, `seq_id` INTEGER AUTO_INCREMENT | TTL -1 (kept), 1 version |
//! | PushTable `<prefix>_push` | `user_id` STRING, `seq_id` INTEGER AUTO_INCREMENT | TTL 7 days, 1 version |
//! | meta `<prefix>_meta` | `id` STRING, `item` STRING | TTL -1, 1 version |
//!
//! A message row carries the caller's free-form columns plus system columns whose names start
//! with `_` (so caller columns may not). StoreTable rows: `_sender`, `_cmid` (client message
//! id), `_sent_ms`. Push rows, written once per member, pack the whole message into one BINARY
//! `_env` cell ([`envelope::Envelope`]: conversation, StoreTable seq id, sender, client message
//! id, send and push times and the caller's columns), as the reference Timeline library stores
//! a serialized message: every cell costs a skiplist insert, a WAL record and an SSTable entry.
//!
//! # Write- and read-expansion
//! A conversation is stored once in the meta table with its members and a [`Mode`]. In
//! [`Mode::Push`] (write-expansion) `send` copies every message into each member's sync queue
//! (sender included, for their other devices). In [`Mode::Pull`] (read-expansion, chosen
//! automatically above [`TimelineConfig::read_expansion_threshold`] members, or explicitly)
//! nothing is copied: the meta table lists the conversation under each member
//! (`id = "pulls/<user>"`), and `sync` reads those conversations' StoreTable queues after the
//! user's own sync queue, each from its own checkpoint in [`Checkpoint::pull`].
//!
//! # Idempotent send
//! `send` is keyed by `(conversation, client_msg_id)`; a retried send never delivers twice:
//! 1. *Claim*: PutRow of the dedup row `("dedup/<conv>", client_msg_id)` with EXPECT_NOT_EXIST
//!    and `claimed_ms`. Winning the claim means no earlier attempt stored anything.
//! 2. *Store*: PutRow of the message into the StoreTable (AUTO_INCREMENT, RT_PK) → seq id.
//! 3. *Fan-out*: BatchWriteRow of ≤ `batch_rows` push rows per request, requests in parallel,
//!    rows that failed retried. The first request also carries the UpdateRow that records
//!    `store_seq` on the dedup row (a second table in the same BatchWriteRow: one round trip
//!    fewer per message). Finally the dedup row gets `fanout_done = true` (a pull conversation
//!    has no fan-out and records `store_seq` with it).
//!
//! A retry that loses the claim reads the dedup row: done → nothing to do. Otherwise it finds
//! the seq id (from `store_seq`, or — after a crash between store and record — by scanning the
//! conversation's tail for a row with its `_cmid`; storing only if none is found), reads the
//! stored message back, and re-drives the fan-out only to members whose sync queue lacks a row
//! with this (conversation, store seq id) envelope. That check scans each queue backwards from its tail and
//! stops at rows pushed more than [`REDRIVE_SKEW_MS`] before the claim, since every copy of the
//! message was pushed after it.
//!
//! Concurrent attempts (a client that timed out and retried while its first attempt still
//! runs) must not both store or fan out. An unfinished claim is owned for
//! [`TimelineConfig::claim_lease_ms`]: a retry inside the lease gets
//! [`TimelineError::InProgress`]; after it, the retry takes the claim over with a conditional
//! UpdateRow (`claimed_ms` must still hold the value it read), so exactly one retry wins and
//! finishes the send. Only an attempt stalled for longer than the lease can still race.
//!
//! # Order
//! Sequence ids grow strictly inside one queue. Within one conversation a device sees messages
//! in StoreTable order when sends to that conversation are not concurrent (as from one client
//! per conversation); otherwise copies may reach a sync queue in commit order of the fan-outs,
//! and `Message::seq_id` (the store seq) lets a device re-order.

pub mod envelope;
pub mod meta;
pub mod push;
pub mod send;
pub mod store;
pub mod sync;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::client::{Client, ClientError};
use crate::protocol::pb;
use crate::protocol::plainbuffer::{Cell, ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row};

pub use send::SendReceipt;
pub use sync::SyncBatch;

/// How far back (ms) the re-drive check of a retried send looks before the claim time: covers
/// clock differences between senders and a fan-out request delayed in flight.
pub const REDRIVE_SKEW_MS: i64 = 5 * 60 * 1000;
/// Default of [`TimelineConfig::claim_lease_ms`]: far longer than a send takes.
pub const DEFAULT_CLAIM_LEASE_MS: i64 = 10_000;
/// Seven days: the default TTL of the sync queues.
pub const DEFAULT_PUSH_TTL_SECS: i32 = 7 * 24 * 3600;
/// Most rows in one BatchWriteRow (the service limit).
pub const MAX_BATCH_ROWS: usize = 200;

/// Errors of the Timeline layer.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    /// A request failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A row read back lacks a column or holds the wrong type.
    #[error("{table}: malformed row: {what}")]
    MalformedRow {
        /// The table read.
        table: String,
        /// What was wrong, naming the column.
        what: String,
    },
    /// An existing table has another primary key than the Timeline layout.
    #[error("table '{table}' exists with another schema: {what}")]
    SchemaMismatch {
        /// The table.
        table: String,
        /// What differs.
        what: String,
    },
    /// The caller's arguments are unusable.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The conversation has no meta row.
    #[error("conversation '{0}' does not exist")]
    NoSuchConversation(String),
    /// Fan-out rows kept failing after every retry.
    #[error("fan-out of {conversation}#{seq_id}: {failed} rows failed after retries: {last}")]
    FanOutFailed {
        /// Conversation id.
        conversation: String,
        /// Store seq id of the message.
        seq_id: i64,
        /// Rows still unwritten.
        failed: usize,
        /// The last row error.
        last: String,
    },
    /// Another attempt with this client message id is unfinished and still owns it (its claim
    /// is younger than [`TimelineConfig::claim_lease_ms`]): retry later.
    #[error("a send of {conversation}/{client_msg_id} is in progress; retry later")]
    InProgress {
        /// Conversation id.
        conversation: String,
        /// The client message id.
        client_msg_id: String,
    },
}

/// Result alias of the Timeline layer.
pub type Result<T> = std::result::Result<T, TimelineError>;

/// Table names and knobs of one Timeline store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineConfig {
    /// The StoreTable (per-conversation history).
    pub store_table: String,
    /// The PushTable (per-user sync queues).
    pub push_table: String,
    /// Conversation metadata, pull memberships and send dedup records.
    pub meta_table: String,
    /// TTL of sync queue rows (seconds, -1 = forever; at least one day otherwise).
    pub push_ttl_secs: i32,
    /// TTL of history rows (seconds, -1 = forever).
    pub store_ttl_secs: i32,
    /// Conversations with more members than this use read-expansion ([`Mode::Pull`]).
    pub read_expansion_threshold: usize,
    /// Rows per fan-out BatchWriteRow (1..=200).
    pub batch_rows: usize,
    /// Extra attempts for fan-out rows that failed inside a successful batch.
    pub row_retries: u32,
    /// GetRange page size of sync and history reads.
    pub page_size: usize,
    /// How long (ms) an unfinished send owns its client message id. A retry within the lease
    /// is answered [`TimelineError::InProgress`], so it cannot store or fan out beside the
    /// attempt still running; after it, the retry takes the claim over and finishes the send.
    pub claim_lease_ms: i64,
}

impl TimelineConfig {
    /// Tables `<prefix>_store`, `<prefix>_push`, `<prefix>_meta`; push TTL 7 days, history
    /// forever, read-expansion above 500 members, 200-row batches, 20-row pages.
    pub fn with_prefix(prefix: &str) -> TimelineConfig {
        TimelineConfig {
            store_table: format!("{prefix}_store"),
            push_table: format!("{prefix}_push"),
            meta_table: format!("{prefix}_meta"),
            push_ttl_secs: DEFAULT_PUSH_TTL_SECS,
            store_ttl_secs: -1,
            read_expansion_threshold: 500,
            batch_rows: MAX_BATCH_ROWS,
            row_retries: 5,
            page_size: 20,
            claim_lease_ms: DEFAULT_CLAIM_LEASE_MS,
        }
    }
}

impl Default for TimelineConfig {
    fn default() -> Self {
        TimelineConfig::with_prefix("im")
    }
}

/// How a conversation's messages reach its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write-expansion: one copy per member sync queue.
    Push,
    /// Read-expansion: members read the conversation's StoreTable queue.
    Pull,
}

impl Mode {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Push => "push",
            Mode::Pull => "pull",
        }
    }

    /// The mode of a stored name.
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "push" => Some(Mode::Push),
            "pull" => Some(Mode::Pull),
            _ => None,
        }
    }
}

/// A conversation: one-to-one chat or group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Timeline id of its StoreTable queue.
    pub id: String,
    /// Member user ids.
    pub members: Vec<String>,
    /// Push or pull delivery.
    pub mode: Mode,
}

/// One message as read from a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The conversation it belongs to.
    pub conversation: String,
    /// Its seq id in the conversation's StoreTable queue.
    pub seq_id: i64,
    /// Sender user id.
    pub sender: String,
    /// The sender's idempotency key.
    pub client_msg_id: String,
    /// Send time, ms since the epoch (sender clock).
    pub sent_ms: i64,
    /// The caller's columns, in stored order.
    pub columns: Vec<(String, ColumnValue)>,
}

impl Message {
    /// The caller column `name`, if present.
    pub fn column(&self, name: &str) -> Option<&ColumnValue> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The caller column `name` as a string, if it is one.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.column(name) {
            Some(ColumnValue::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// Where one device stands: the last seq id it consumed from its user's sync queue and from
/// each read-expansion conversation. Every device keeps its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Last consumed seq id of the user's sync queue (0: none).
    pub push: i64,
    /// Last consumed StoreTable seq id per read-expansion conversation (absent: none).
    pub pull: BTreeMap<String, i64>,
}

/// A Timeline store over one client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Timeline {
    client: Client,
    config: Arc<TimelineConfig>,
}

impl Timeline {
    /// A Timeline over `client` with `config`; call [`Timeline::prepare_tables`] once first.
    ///
    /// # Errors
    /// `Invalid` when `batch_rows` is not 1..=200 or `page_size` is 0.
    pub fn new(client: Client, config: TimelineConfig) -> Result<Timeline> {
        if !(1..=MAX_BATCH_ROWS).contains(&config.batch_rows) {
            return Err(TimelineError::Invalid(format!(
                "batch_rows must be 1..={MAX_BATCH_ROWS}"
            )));
        }
        if config.page_size == 0 {
            return Err(TimelineError::Invalid(
                "page_size must be at least 1".into(),
            ));
        }
        Ok(Timeline {
            client,
            config: Arc::new(config),
        })
    }

    /// The client requests go through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &TimelineConfig {
        &self.config
    }

    /// Creates the StoreTable, PushTable and meta table, or checks the primary keys of those
    /// that exist.
    ///
    /// # Errors
    /// A request failed, or an existing table has another primary key.
    pub async fn prepare_tables(&self) -> Result<()> {
        let c = &self.config;
        let auto = Some(pb::PrimaryKeyOption::AutoIncrement as i32);
        let tables = [
            (&c.store_table, store::PK_CONV, auto, c.store_ttl_secs),
            (&c.push_table, push::PK_USER, auto, c.push_ttl_secs),
            (&c.meta_table, meta::PK_ID, None, -1),
        ];
        for (table, first, option, ttl) in tables {
            let second = if option.is_some() {
                (SEQ_COLUMN, pb::PrimaryKeyType::Integer, option)
            } else {
                (meta::PK_ITEM, pb::PrimaryKeyType::String, None)
            };
            let schema = [(first, pb::PrimaryKeyType::String, None), second];
            ensure_table(&self.client, table, &schema, ttl).await?;
        }
        Ok(())
    }
}

impl Timeline {
    /// Up to `max` rows of `table` from `from` toward `to` in `direction`, read in GetRange
    /// pages of at most `page_size` rows and each turned into a `T` by `each`; and whether the
    /// range may hold more (the last page read named a next start). The store and push
    /// readers share this paging loop.
    ///
    /// # Errors
    /// A request failed, or `each` failed on a row.
    pub(crate) async fn read_pages<T>(
        &self,
        table: &str,
        mut from: Vec<PrimaryKeyColumn>,
        to: &[PrimaryKeyColumn],
        direction: pb::Direction,
        max: usize,
        mut each: impl FnMut(&Row) -> Result<T>,
    ) -> Result<(Vec<T>, bool)> {
        let mut out = Vec::new();
        while out.len() < max {
            let limit = (max - out.len()).min(self.config.page_size);
            let page = self
                .client
                .range(table, &from, to, direction, i32::try_from(limit).ok())
                .await?;
            for row in &page.rows {
                out.push(each(row)?);
            }
            match page.next_start {
                Some(next) => from = next,
                None => return Ok((out, false)),
            }
        }
        Ok((out, true))
    }
}

/// The seq id primary-key column of the StoreTable and PushTable.
pub const SEQ_COLUMN: &str = "seq_id";

type PkSpec<'a> = (&'a str, pb::PrimaryKeyType, Option<i32>);

/// Creates `table` with `schema`, TTL `ttl_secs` and one version, or checks its primary key.
async fn ensure_table(
    client: &Client,
    table: &str,
    schema: &[PkSpec<'_>],
    ttl_secs: i32,
) -> Result<()> {
    let req = pb::DescribeTableRequest {
        table_name: table.to_string(),
    };
    match client.describe_table(&req).await {
        Ok(resp) => return check_schema(table, &resp.table_meta.primary_key, schema),
        Err(e) if e.is_object_not_exist() => {}
        Err(e) => return Err(e.into()),
    }
    let mut create = crate::client::ops::create_table_request(
        table,
        &schema.iter().map(|(n, t, _)| (*n, *t)).collect::<Vec<_>>(),
    );
    for (column, (_, _, option)) in create.table_meta.primary_key.iter_mut().zip(schema) {
        column.option = *option;
    }
    create.table_options = Some(pb::TableOptions {
        time_to_live: Some(ttl_secs),
        max_versions: Some(1),
        ..Default::default()
    });
    match client.create_table(&create).await {
        Ok(_) => Ok(()),
        // Someone else created it in between: check theirs.
        Err(e) if e.is_object_already_exist() => {
            let resp = client.describe_table(&req).await?;
            check_schema(table, &resp.table_meta.primary_key, schema)
        }
        Err(e) => Err(e.into()),
    }
}

fn check_schema(table: &str, actual: &[pb::PrimaryKeySchema], want: &[PkSpec<'_>]) -> Result<()> {
    let got: Vec<(&str, i32, Option<i32>)> = actual
        .iter()
        .map(|c| (c.name.as_str(), c.r#type, c.option))
        .collect();
    let expected: Vec<(&str, i32, Option<i32>)> =
        want.iter().map(|(n, t, o)| (*n, *t as i32, *o)).collect();
    if got != expected {
        return Err(TimelineError::SchemaMismatch {
            table: table.to_string(),
            what: format!("primary key {got:?}, expected {expected:?}"),
        });
    }
    Ok(())
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Checked access to the columns of a row read back, errors naming table and column.
pub(crate) struct RowView<'r> {
    pub(crate) table: &'r str,
    pub(crate) row: &'r Row,
}

impl<'r> RowView<'r> {
    fn malformed(&self, what: String) -> TimelineError {
        TimelineError::MalformedRow {
            table: self.table.to_string(),
            what,
        }
    }

    pub(crate) fn cell(&self, name: &str) -> Option<&'r ColumnValue> {
        self.row
            .cells
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.value.as_ref())
    }

    pub(crate) fn string(&self, name: &str) -> Result<&'r str> {
        match self.cell(name) {
            Some(ColumnValue::String(s)) => Ok(s),
            other => Err(self.malformed(format!("column {name}: expected STRING, got {other:?}"))),
        }
    }

    pub(crate) fn integer(&self, name: &str) -> Result<i64> {
        match self.cell(name) {
            Some(ColumnValue::Integer(v)) => Ok(*v),
            other => Err(self.malformed(format!("column {name}: expected INTEGER, got {other:?}"))),
        }
    }

    pub(crate) fn pk_integer(&self, name: &str) -> Result<i64> {
        match self.row.primary_key.iter().find(|c| c.name == name) {
            Some(c) => match c.value {
                PrimaryKeyValue::Integer(v) => Ok(v),
                ref other => {
                    Err(self.malformed(format!("pk {name}: expected INTEGER, got {other:?}")))
                }
            },
            None => Err(self.malformed(format!("pk {name}: missing"))),
        }
    }

    pub(crate) fn pk_string(&self, name: &str) -> Result<&'r str> {
        match self.row.primary_key.iter().find(|c| c.name == name) {
            Some(c) => match &c.value {
                PrimaryKeyValue::String(s) => Ok(s),
                other => Err(self.malformed(format!("pk {name}: expected STRING, got {other:?}"))),
            },
            None => Err(self.malformed(format!("pk {name}: missing"))),
        }
    }

    /// The caller's columns: every cell whose name does not start with `_`.
    pub(crate) fn user_columns(&self) -> Vec<(String, ColumnValue)> {
        self.row
            .cells
            .iter()
            .filter(|c| !c.name.starts_with('_'))
            .filter_map(|c| c.value.clone().map(|v| (c.name.clone(), v)))
            .collect()
    }
}

/// Put cells of the caller's columns, refusing names reserved for the system columns.
pub(crate) fn user_cells(columns: &[(String, ColumnValue)]) -> Result<Vec<Cell>> {
    columns
        .iter()
        .map(|(name, value)| {
            if name.is_empty() || name.starts_with('_') {
                return Err(TimelineError::Invalid(format!(
                    "column name '{name}' is empty or starts with '_' (reserved)"
                )));
            }
            Ok(Cell::put(name.clone(), value.clone(), None))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::plainbuffer::PrimaryKeyColumn;

    #[test]
    fn modes_round_trip_their_names() {
        for mode in [Mode::Push, Mode::Pull] {
            assert_eq!(Mode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(Mode::parse("fanout"), None);
    }

    #[test]
    fn reserved_column_names_are_refused() {
        let ok = user_cells(&[("text".into(), ColumnValue::String("hi".into()))]);
        assert_eq!(ok.expect("valid").len(), 1);
        let err = user_cells(&[("_sender".into(), ColumnValue::Integer(1))]).expect_err("reserved");
        assert!(err.to_string().contains("_sender"), "{err}");
    }

    #[test]
    fn row_view_names_the_missing_column() {
        let row = Row {
            primary_key: vec![PrimaryKeyColumn::new(
                SEQ_COLUMN,
                PrimaryKeyValue::Integer(3),
            )],
            cells: vec![Cell::put("_sender", ColumnValue::String("a".into()), None)],
            delete_marker: false,
        };
        let view = RowView {
            table: "t",
            row: &row,
        };
        assert_eq!(view.pk_integer(SEQ_COLUMN).expect("pk"), 3);
        assert_eq!(view.string("_sender").expect("sender"), "a");
        let err = view.integer("_sent_ms").expect_err("missing");
        assert!(err.to_string().contains("_sent_ms"), "{err}");
        assert!(view.pk_string("conv_id").is_err());
    }

    #[test]
    fn config_rejects_oversized_batches() {
        let client = Client::new(crate::client::ClientConfig::new(
            "http://127.0.0.1:1",
            "i",
            "a",
            "b",
        ))
        .expect("client");
        let mut config = TimelineConfig::with_prefix("x");
        assert_eq!(config.push_table, "x_push");
        config.batch_rows = 201;
        assert!(Timeline::new(client, config).is_err());
    }

    #[test]
    fn schema_check_compares_names_types_and_options() {
        let auto = Some(pb::PrimaryKeyOption::AutoIncrement as i32);
        let want = [
            ("user_id", pb::PrimaryKeyType::String, None),
            (SEQ_COLUMN, pb::PrimaryKeyType::Integer, auto),
        ];
        let mut actual = vec![
            pb::PrimaryKeySchema {
                name: "user_id".into(),
                r#type: pb::PrimaryKeyType::String as i32,
                option: None,
            },
            pb::PrimaryKeySchema {
                name: SEQ_COLUMN.into(),
                r#type: pb::PrimaryKeyType::Integer as i32,
                option: auto,
            },
        ];
        assert!(check_schema("t", &actual, &want).is_ok());
        actual[1].option = None;
        assert!(check_schema("t", &actual, &want).is_err());
    }
}
