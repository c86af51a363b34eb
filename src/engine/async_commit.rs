//! Group commit for callers on an async runtime. They queue one or more batches with a
//! one-shot sender and await it; one committer thread per engine (started on first use,
//! gone after a while without work, so an idle table holds no thread) takes everything
//! queued and commits it as one group. No runtime thread ever blocks on the WAL or an
//! fsync, and a burst of writers costs one thread wake-up per group instead of several per
//! write.
//! Synchronous writers keep the leader/follower queue of `wal::writer`; both paths end in
//! the same `commit_group`, serialized by the engine's writer lock.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use super::batch::WriteBatch;
use super::error::{Error, Result};
use super::key::SeqNo;

/// One result per batch of a submission, in order.
pub type Results = Vec<Result<SeqNo>>;

type Reply = oneshot::Sender<Results>;

#[derive(Default)]
struct State {
    /// Every queued batch, in submission order.
    pending: Vec<WriteBatch>,
    /// Per submission: how many of `pending` it queued, and where its results go.
    replies: Vec<(usize, Reply)>,
    started: bool,
    shutdown: bool,
}

/// The queue between async writers and the committer thread.
#[derive(Default)]
pub struct AsyncCommitter {
    state: Mutex<State>,
    work: Condvar,
}

/// How long a committer thread waits for work before it exits; the next write starts another.
pub const IDLE_EXIT: Duration = Duration::from_secs(30);

/// What the committer thread runs for one group: one result per batch, in order.
pub type CommitFn = dyn Fn(Vec<WriteBatch>) -> Vec<Result<SeqNo>> + Send + Sync;

impl AsyncCommitter {
    /// Queues `batches`, each to be applied atomically on its own; they land in one group.
    /// `start` spawns the committer thread when none runs (it must run
    /// [`AsyncCommitter::run`]); its error fails this write.
    ///
    /// Errors: `Closed` after `shutdown`, or the spawn failure.
    pub fn submit(
        &self,
        batches: Vec<WriteBatch>,
        start: impl FnOnce() -> Result<()>,
    ) -> Result<oneshot::Receiver<Results>> {
        let (tx, rx) = oneshot::channel();
        if batches.is_empty() {
            // Nothing to commit, and the committer waits only for batches.
            let _ = tx.send(Vec::new());
            return Ok(rx);
        }
        let mut st = self.state.lock();
        if st.shutdown {
            return Err(Error::Closed);
        }
        if !st.started {
            start()?;
            st.started = true;
        }
        let was_idle = st.pending.is_empty();
        st.replies.push((batches.len(), tx));
        st.pending.extend(batches);
        drop(st);
        // A non-empty queue means the committer is already due to look again.
        if was_idle {
            self.work.notify_one();
        }
        Ok(rx)
    }

    /// The committer thread's loop: commit whatever is queued, as one group, until shutdown
    /// or until nothing came for `idle`. The exit is decided under the queue lock, so a write
    /// queued after it finds no thread running and starts one.
    pub fn run(&self, commit: &CommitFn, idle: Duration) {
        loop {
            let group = {
                let mut st = self.state.lock();
                while st.pending.is_empty() && !st.shutdown {
                    let waited = self.work.wait_for(&mut st, idle);
                    if waited.timed_out() && st.pending.is_empty() && !st.shutdown {
                        st.started = false;
                        return;
                    }
                }
                if st.pending.is_empty() {
                    return; // shut down with nothing left
                }
                (
                    std::mem::take(&mut st.pending),
                    std::mem::take(&mut st.replies),
                )
            };
            let (batches, replies) = group;
            let mut results = commit(batches).into_iter();
            for (count, reply) in replies {
                let mut part: Results = results.by_ref().take(count).collect();
                part.resize_with(count, || Err(Error::Poisoned));
                // A caller that stopped waiting (its request was dropped) is no error.
                let _ = reply.send(part);
            }
        }
    }

    /// Refuses new writes and lets the committer finish what is queued, then exit.
    pub fn shutdown(&self) {
        self.state.lock().shutdown = true;
        self.work.notify_all();
    }
}

/// Awaits the results of a submission of `count` batches, one per batch.
///
/// Errors (per batch): the commit's own error, or `Poisoned` if the committer vanished
/// without answering.
pub async fn wait(rx: oneshot::Receiver<Results>, count: usize) -> Results {
    rx.await
        .unwrap_or_else(|_| (0..count).map(|_| Err(Error::Poisoned)).collect())
}

/// Starts the committer thread of `committer`, committing with `commit`.
///
/// Errors: the thread could not be spawned.
pub fn spawn(
    committer: Arc<AsyncCommitter>,
    commit: Box<CommitFn>,
    dir: &std::path::Path,
) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("otsd-commit".into())
        .spawn(move || committer.run(&*commit, IDLE_EXIT))
        .map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn batch(n: u8) -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put(&[n], b"c", Some(1), &[n]);
        b
    }

    #[test]
    fn queued_writes_are_committed_in_groups_and_answered_in_order() {
        let committer = Arc::new(AsyncCommitter::default());
        let groups = Arc::new(AtomicU64::new(0));
        let next = Arc::new(AtomicU64::new(0));
        let (g, n) = (Arc::clone(&groups), Arc::clone(&next));
        let commit: Arc<CommitFn> = Arc::new(move |batches: Vec<WriteBatch>| {
            g.fetch_add(1, Ordering::SeqCst);
            batches
                .iter()
                .map(|_| Ok(n.fetch_add(1, Ordering::SeqCst) + 1))
                .collect()
        });
        let dir = std::env::temp_dir();
        let handle = std::sync::Mutex::new(None);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let seqnos = rt.block_on(async {
            let mut waits = Vec::new();
            for i in 0..200u8 {
                let rx = committer
                    .submit(vec![batch(i)], || {
                        let commit = Arc::clone(&commit);
                        let h = spawn(Arc::clone(&committer), Box::new(move |b| commit(b)), &dir)?;
                        *handle.lock().unwrap() = Some(h);
                        Ok(())
                    })
                    .unwrap();
                waits.push(tokio::spawn(wait(rx, 1)));
            }
            let mut out = Vec::new();
            for w in waits {
                let results = w.await.unwrap();
                assert_eq!(results.len(), 1);
                out.push(results.into_iter().next().unwrap().unwrap());
            }
            out
        });
        // Every write answered once, with distinct seqnos in submission order.
        assert_eq!(seqnos, (1..=200).collect::<Vec<_>>());
        assert!(groups.load(Ordering::SeqCst) <= 200);
        committer.shutdown();
        handle.lock().unwrap().take().unwrap().join().unwrap();
        assert!(matches!(
            committer.submit(vec![batch(0)], || Ok(())),
            Err(Error::Closed)
        ));
    }

    #[test]
    fn an_idle_committer_exits_and_the_next_write_starts_another() {
        let committer = Arc::new(AsyncCommitter::default());
        let commit: Arc<CommitFn> =
            Arc::new(|batches: Vec<WriteBatch>| batches.iter().map(|_| Ok(1)).collect());
        let starts = AtomicU64::new(0);
        let handles = std::sync::Mutex::new(Vec::new());
        let write = |n: u8| {
            let rx = committer
                .submit(vec![batch(n)], || {
                    starts.fetch_add(1, Ordering::SeqCst);
                    let (c, commit) = (Arc::clone(&committer), Arc::clone(&commit));
                    let idle = Duration::from_millis(20);
                    let h = std::thread::spawn(move || c.run(&move |b| commit(b), idle));
                    handles.lock().unwrap().push(h);
                    Ok(())
                })
                .unwrap();
            rx.blocking_recv().unwrap().pop().unwrap().unwrap()
        };
        assert_eq!(write(1), 1);
        let first = handles.lock().unwrap().pop().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !first.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            first.is_finished(),
            "an idle committer should exit on its own"
        );
        first.join().unwrap();
        assert_eq!(write(2), 1);
        assert_eq!(starts.load(Ordering::SeqCst), 2);
        committer.shutdown();
        for h in handles.lock().unwrap().drain(..) {
            h.join().unwrap();
        }
    }
}
