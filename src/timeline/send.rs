//! `send`: claim the client message id, append once to the StoreTable, fan out to the members'
//! sync queues (push conversations), and record completion; a retry re-drives only what is
//! missing. The protocol and its limits are described in the `timeline` module docs.

use super::meta::Claim;
use super::{now_ms, user_cells, Conversation, Message, Mode, Result, Timeline, TimelineError};
use crate::protocol::plainbuffer::ColumnValue;

/// How many of a conversation's newest messages the recovery of a crashed send searches for
/// its client message id.
const RECOVERY_SCAN_ROWS: usize = 1000;

/// What one `send` call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The message's seq id in the conversation's StoreTable queue.
    pub seq_id: i64,
    /// Sync-queue rows written by this call.
    pub fanout_rows: usize,
    /// An earlier attempt with this client message id had stored the message already.
    pub deduplicated: bool,
    /// How the conversation delivers.
    pub mode: Mode,
}

impl Timeline {
    /// Sends `columns` from `sender` into `conv`, once per `client_msg_id`: stores it in the
    /// StoreTable and, for push conversations, copies it into every member's sync queue.
    /// Calling it again with the same id (after a timeout, a crash, ...) delivers nothing
    /// twice and completes what the earlier attempt left undone.
    ///
    /// # Errors
    /// Reserved or empty column names, an empty client message id, failed requests, or
    /// fan-out rows that kept failing; the send may then be retried with the same id.
    pub async fn send(
        &self,
        conv: &Conversation,
        sender: &str,
        columns: &[(String, ColumnValue)],
        client_msg_id: &str,
    ) -> Result<SendReceipt> {
        if client_msg_id.is_empty() {
            return Err(TimelineError::Invalid(
                "client_msg_id must not be empty".into(),
            ));
        }
        // Refuse reserved column names before claiming anything.
        user_cells(columns)?;
        match self.claim(&conv.id, client_msg_id).await? {
            Claim::Won { .. } => {
                let msg = self
                    .store_message(conv, sender, columns, client_msg_id)
                    .await?;
                let fanout_rows = match conv.mode {
                    Mode::Push => self.fan_out_step(conv, &msg).await?,
                    Mode::Pull => 0,
                };
                self.record_send(&conv.id, client_msg_id, msg.seq_id, true)
                    .await?;
                Ok(SendReceipt {
                    seq_id: msg.seq_id,
                    fanout_rows,
                    deduplicated: false,
                    mode: conv.mode,
                })
            }
            Claim::Existing(record) => {
                if !record.fanout_done {
                    self.own_unfinished_claim(&conv.id, client_msg_id, record.claimed_ms)
                        .await?;
                }
                let (seq_id, stored_before) = match record.store_seq {
                    Some(seq) => (seq, true),
                    None => match self
                        .store_find_client_msg_id(&conv.id, client_msg_id, RECOVERY_SCAN_ROWS)
                        .await?
                    {
                        Some(seq) => {
                            self.record_send(&conv.id, client_msg_id, seq, false)
                                .await?;
                            (seq, true)
                        }
                        None => {
                            let msg = self
                                .store_step(conv, sender, columns, client_msg_id)
                                .await?;
                            (msg.seq_id, false)
                        }
                    },
                };
                if record.fanout_done {
                    return Ok(SendReceipt {
                        seq_id,
                        fanout_rows: 0,
                        deduplicated: true,
                        mode: conv.mode,
                    });
                }
                let fanout_rows = match conv.mode {
                    Mode::Push => {
                        let msg = self.store_get(&conv.id, seq_id).await?.ok_or_else(|| {
                            TimelineError::Invalid(format!(
                                "message {}#{seq_id} recorded but not in the StoreTable (expired?)",
                                conv.id
                            ))
                        })?;
                        let missing = self
                            .receivers_missing(&msg, &conv.members, record.claimed_ms)
                            .await?;
                        self.fan_out(&msg, &missing).await?
                    }
                    Mode::Pull => 0,
                };
                self.record_send(&conv.id, client_msg_id, seq_id, true)
                    .await?;
                Ok(SendReceipt {
                    seq_id,
                    fanout_rows,
                    deduplicated: stored_before,
                    mode: conv.mode,
                })
            }
        }
    }

    /// Makes this attempt the owner of an unfinished claim read with `claimed_ms`: refused
    /// while the claim's lease runs (its attempt may still be working), else taken over with a
    /// conditional write that exactly one racing retry wins.
    ///
    /// # Errors
    /// [`TimelineError::InProgress`] inside the lease or when another retry took it over.
    async fn own_unfinished_claim(
        &self,
        conv: &str,
        client_msg_id: &str,
        claimed_ms: i64,
    ) -> Result<()> {
        let in_progress = || TimelineError::InProgress {
            conversation: conv.to_string(),
            client_msg_id: client_msg_id.to_string(),
        };
        if now_ms().saturating_sub(claimed_ms) < self.config().claim_lease_ms {
            return Err(in_progress());
        }
        if self
            .take_over_claim(conv, client_msg_id, claimed_ms)
            .await?
        {
            Ok(())
        } else {
            Err(in_progress())
        }
    }

    /// Stores a message and records its seq id on the dedup row, without fan-out: how a retry
    /// stores what no earlier attempt stored. Public so tests can stop a send between its
    /// steps, as a crash would.
    ///
    /// # Errors
    /// Reserved column names or a failed request.
    pub async fn store_step(
        &self,
        conv: &Conversation,
        sender: &str,
        columns: &[(String, ColumnValue)],
        client_msg_id: &str,
    ) -> Result<Message> {
        let msg = self
            .store_message(conv, sender, columns, client_msg_id)
            .await?;
        self.record_send(&conv.id, client_msg_id, msg.seq_id, false)
            .await?;
        Ok(msg)
    }

    /// The fan-out step of a won push send: copies `msg` (already stored) to every member,
    /// and records its seq id on the dedup row in the first request rather than in a request
    /// of its own (the same crash window as a separate record, one round trip fewer). Public
    /// so tests can stop a send between its steps, as a crash would.
    ///
    /// # Errors
    /// As [`Timeline::fan_out`]; the record is retried with the push rows.
    pub async fn fan_out_step(&self, conv: &Conversation, msg: &Message) -> Result<usize> {
        let record = self.record_companion(&conv.id, &msg.client_msg_id, msg.seq_id);
        self.fan_out_with(msg, &conv.members, Some(record)).await
    }

    /// Appends the message to the StoreTable and returns it with its seq id (no record).
    async fn store_message(
        &self,
        conv: &Conversation,
        sender: &str,
        columns: &[(String, ColumnValue)],
        client_msg_id: &str,
    ) -> Result<Message> {
        let cells = user_cells(columns)?;
        let sent_ms = now_ms();
        let seq_id = self
            .store_append(&conv.id, sender, client_msg_id, sent_ms, cells)
            .await?;
        Ok(Message {
            conversation: conv.id.clone(),
            seq_id,
            sender: sender.to_string(),
            client_msg_id: client_msg_id.to_string(),
            sent_ms,
            columns: columns.to_vec(),
        })
    }

    /// The members whose sync queue lacks `msg` (checked concurrently, 16 at a time).
    async fn receivers_missing(
        &self,
        msg: &Message,
        members: &[String],
        claimed_ms: i64,
    ) -> Result<Vec<String>> {
        let mut missing = Vec::new();
        for group in members.chunks(16) {
            let mut checks = tokio::task::JoinSet::new();
            for user in group {
                let (timeline, user) = (self.clone(), user.clone());
                let (conv, seq) = (msg.conversation.clone(), msg.seq_id);
                checks.spawn(async move {
                    let found = timeline.push_contains(&user, &conv, seq, claimed_ms).await;
                    (user, found)
                });
            }
            while let Some(joined) = checks.join_next().await {
                let (user, found) = joined
                    .map_err(|e| TimelineError::Invalid(format!("re-drive check failed: {e}")))?;
                if !found? {
                    missing.push(user);
                }
            }
        }
        Ok(missing)
    }
}
