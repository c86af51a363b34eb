//! Connection workers: single-threaded tokio runtimes (two per core by default, see
//! `config::WORKERS_PER_CORE`), each serving the connections the accept loop deals to it.
//!
//! Why not the work-stealing runtime: on the 2-core bench machine a connection that stays on
//! one thread answered 17% more PutRow and 6% more GetRow requests per second (wrk, 64
//! connections, 8 interleaved rounds): no task migrates, no idle worker is woken to steal,
//! and a commit's wake-ups stay local. The price is that a connection's requests queue behind
//! the other requests of its worker, so a new connection goes to the worker with the fewest
//! open connections.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;

/// Work handed to a worker: builds the connection's future on the worker's own thread, so
/// that the socket is registered with that worker's reactor.
type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// How long a stopping worker waits for its blocking-pool threads. Every request is drained
/// before the workers stop, so only a lingering body drain can still be running.
const STOP_WAIT: Duration = Duration::from_secs(1);

struct Worker {
    jobs: mpsc::UnboundedSender<Job>,
    /// Connections dealt to this worker and not yet closed.
    open: Arc<AtomicUsize>,
    thread: JoinHandle<()>,
}

/// A pool of single-threaded runtimes serving connections.
pub struct Workers {
    workers: Vec<Worker>,
}

impl Workers {
    /// Starts `count` workers (at least one), named `otsd-conn-<i>`.
    ///
    /// # Errors
    /// A runtime or thread could not be created.
    pub fn start(count: usize) -> io::Result<Workers> {
        let mut workers = Vec::with_capacity(count.max(1));
        for i in 0..count.max(1) {
            let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let thread = std::thread::Builder::new()
                .name(format!("otsd-conn-{i}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        while let Some(job) = queue.recv().await {
                            // A panic ends only this task; the runtime goes on.
                            tokio::spawn(job());
                        }
                    });
                    runtime.shutdown_timeout(STOP_WAIT);
                })?;
            workers.push(Worker {
                jobs,
                open: Arc::new(AtomicUsize::new(0)),
                thread,
            });
        }
        Ok(Workers { workers })
    }

    /// Open connections per worker, in worker order.
    pub fn open_connections(&self) -> Vec<usize> {
        self.workers
            .iter()
            .map(|w| w.open.load(Ordering::Relaxed))
            .collect()
    }

    /// Runs the future that `connection` builds on the worker with the fewest open
    /// connections, counting it open until the future ends (or is dropped).
    pub fn serve<F, Fut>(&self, connection: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(worker) = self
            .workers
            .iter()
            .min_by_key(|w| w.open.load(Ordering::Relaxed))
        else {
            return;
        };
        worker.open.fetch_add(1, Ordering::Relaxed);
        let open = OpenConnection(Arc::clone(&worker.open));
        let job: Job = Box::new(move || {
            Box::pin(async move {
                let _open = open;
                connection().await;
            })
        });
        // A worker's loop only ends when the pool is stopped, which takes `self`.
        if worker.jobs.send(job).is_err() {
            tracing::error!("connection worker has stopped; connection dropped");
        }
    }

    /// Stops taking connections and waits for every worker thread to end. Connections still
    /// open are dropped, so callers drain them first.
    pub async fn stop(self) {
        let threads: Vec<JoinHandle<()>> = self
            .workers
            .into_iter()
            .map(|w| {
                drop(w.jobs);
                w.thread
            })
            .collect();
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                if thread.join().is_err() {
                    tracing::error!("connection worker panicked");
                }
            }
        })
        .await;
        if let Err(e) = joined {
            tracing::error!(error = %e, "joining connection workers failed");
        }
    }
}

/// Counts a connection open on its worker until dropped.
struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn connections_go_to_the_least_loaded_worker_and_run_on_its_thread() {
        let workers = Workers::start(2).expect("start");
        let names = Arc::new(Mutex::new(Vec::new()));
        let mut releases = Vec::new();
        let mut started = Vec::new();
        for _ in 0..4 {
            let (release, wait) = oneshot::channel::<()>();
            let (ran, ran_rx) = oneshot::channel::<()>();
            let names = Arc::clone(&names);
            workers.serve(move || async move {
                let name = std::thread::current().name().map(str::to_string);
                names.lock().expect("lock").push(name);
                let _ = ran.send(());
                let _ = wait.await;
            });
            releases.push(release);
            started.push(ran_rx);
        }
        for ran in started {
            ran.await.expect("connection ran");
        }
        assert_eq!(workers.open_connections(), vec![2, 2]);
        let mut seen = names.lock().expect("lock").clone();
        seen.sort();
        let conn = |i: usize| Some(format!("otsd-conn-{i}"));
        assert_eq!(seen, vec![conn(0), conn(0), conn(1), conn(1)]);

        // Closing the two connections of worker 0 sends the next one there.
        drop(releases.remove(0));
        drop(releases.remove(1));
        while workers.open_connections() != vec![0, 2] {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (ran, ran_rx) = oneshot::channel::<Option<String>>();
        workers.serve(move || async move {
            let _ = ran.send(std::thread::current().name().map(str::to_string));
        });
        assert_eq!(ran_rx.await.expect("ran"), conn(0));
        drop(releases);
        workers.stop().await;
    }

    #[tokio::test]
    async fn a_panicking_connection_leaves_its_worker_serving() {
        let workers = Workers::start(1).expect("start");
        workers.serve(|| async { panic!("connection bug") });
        let (ran, ran_rx) = oneshot::channel::<()>();
        workers.serve(move || async move {
            let _ = ran.send(());
        });
        ran_rx.await.expect("the worker still serves");
        while workers.open_connections() != vec![0] {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        workers.stop().await;
    }
}
