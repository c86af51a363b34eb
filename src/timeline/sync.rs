//! `sync` and `history`: a device reads its user's sync queue forward from its checkpoint and
//! then the read-expansion conversations the user belongs to, each from its own checkpoint;
//! history pages backwards through one conversation's StoreTable queue.

use super::{Checkpoint, Message, Result, Timeline, TimelineError};
use crate::protocol::pb;

/// What one `sync` call returns.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncBatch {
    /// New messages: sync-queue messages first, then read-expansion conversations in id
    /// order; within each conversation in seq order.
    pub messages: Vec<Message>,
    /// The checkpoint after these messages; store it for the device's next call.
    pub checkpoint: Checkpoint,
    /// Some source was cut at `max`: call again with the new checkpoint.
    pub more: bool,
}

impl Timeline {
    /// Up to `max` messages for `user` after `checkpoint` (exclusive): the user's sync queue,
    /// then each read-expansion conversation the user is a member of. Each device passes
    /// its own checkpoint and keeps the one returned.
    ///
    /// # Errors
    /// `max` is 0, or a request failed or a row is malformed.
    pub async fn sync(&self, user: &str, checkpoint: &Checkpoint, max: usize) -> Result<SyncBatch> {
        if max == 0 {
            return Err(TimelineError::Invalid("sync max must be at least 1".into()));
        }
        let mut next = checkpoint.clone();
        let (entries, mut more) = self.push_read(user, checkpoint.push, max).await?;
        let mut messages = Vec::with_capacity(entries.len());
        for (queue_seq, message) in entries {
            next.push = queue_seq;
            messages.push(message);
        }
        for conv in self.pull_conversations(user).await? {
            let room = max - messages.len();
            if room == 0 {
                more = true;
                break;
            }
            let after = checkpoint.pull.get(&conv).copied().unwrap_or(0);
            let start = after.saturating_add(1);
            // One extra row tells whether this conversation has more than fits.
            let mut read = self
                .store_range(&conv, Some(start), None, pb::Direction::Forward, room + 1)
                .await?;
            if read.len() > room {
                read.truncate(room);
                more = true;
            }
            if let Some(last) = read.last() {
                next.pull.insert(conv.clone(), last.seq_id);
            }
            messages.extend(read);
        }
        Ok(SyncBatch {
            messages,
            checkpoint: next,
            more,
        })
    }

    /// Up to `n` messages of `conv` older than `before_seq` (all when `None`), newest first.
    /// The next page is `history(conv, Some(smallest seq_id seen), n)`.
    ///
    /// # Errors
    /// A request failed or a row is malformed.
    pub async fn history(
        &self,
        conv: &str,
        before_seq: Option<i64>,
        n: usize,
    ) -> Result<Vec<Message>> {
        // GetRange's start is inclusive, so start one below `before_seq`.
        let start = before_seq.map(|s| s.saturating_sub(1));
        if start.is_some_and(|s| s < 0) {
            return Ok(Vec::new());
        }
        self.store_range(conv, start, None, pb::Direction::Backward, n)
            .await
    }
}
