//! The HTTP edge: the accept loop with its connection cap and graceful drain. Connections
//! are served on the per-core runtimes of `workers`; request handling is in `http`,
//! authentication in `auth`, response headers and signing in `response`; operations
//! themselves are `api`'s business.

pub mod auth;
pub mod http;
pub mod idle;
pub mod response;
pub mod workers;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::config::ServerConfig;
use crate::engine::error::is_out_of_descriptors;
use crate::log_limit::{LogLimit, REPEAT_INTERVAL};
use crate::table::Catalog;

// Accept failures repeat for as long as their cause lasts: logged once per interval.
static SHED_LOG: LogLimit = LogLimit::new(REPEAT_INTERVAL);
static ACCEPT_LOG: LogLimit = LogLimit::new(REPEAT_INTERVAL);

/// What every request handler shares.
pub struct ServerState {
    /// All instances and tables.
    pub catalog: Arc<Catalog>,
    /// Keys and limits.
    pub config: ServerConfig,
}

/// Held by every connection and every running handler; shutdown waits until all are gone.
#[derive(Clone)]
pub struct DrainGuard(
    #[expect(
        dead_code,
        reason = "held for its drop: the channel closes when the last guard goes"
    )]
    mpsc::Sender<()>,
);

/// A descriptor held in reserve for when accept fails for want of descriptors: it is let go
/// so that one waiting connection can be accepted and closed at once. Without it, clients
/// would wait in the backlog until their own timeout (the SDKs wait 50 s or more).
struct SpareDescriptor(Option<std::fs::File>);

impl SpareDescriptor {
    fn new() -> SpareDescriptor {
        SpareDescriptor(std::fs::File::open("/dev/null").ok())
    }

    /// Accepts one waiting connection with the spare descriptor and closes it; false when
    /// there was no spare to use.
    async fn shed_one(&mut self, listener: &TcpListener) -> bool {
        if self.0.take().is_none() {
            *self = SpareDescriptor::new();
            return false;
        }
        let accepted = tokio::time::timeout(Duration::from_millis(10), listener.accept()).await;
        drop(accepted);
        *self = SpareDescriptor::new();
        true
    }
}

/// Serves `listener` until `shutdown` completes, then stops accepting, lets in-flight
/// requests finish (idle keep-alive connections are closed at once) for at most
/// `config.shutdown_drain`, and returns. Closing the catalog is the caller's job.
pub async fn run(
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let max_connections = state.config.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max_connections));
    let (stop_tx, stop_rx) = watch::channel(());
    let (drained_tx, mut drained_rx) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    let mut spare = SpareDescriptor::new();
    let workers = workers::Workers::start(state.config.worker_count())?;

    loop {
        // Wait for a free slot before accepting, so excess clients queue in the backlog
        // instead of being accepted and starved.
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if is_out_of_descriptors(&e) && spare.shed_one(&listener).await {
                        if let Some(held_back) = SHED_LOG.admit() {
                            tracing::warn!(
                                held_back,
                                "out of file descriptors: closed a new connection"
                            );
                        }
                        continue;
                    }
                    // Back off instead of spinning.
                    if let Some(held_back) = ACCEPT_LOG.admit() {
                        tracing::warn!(error = %e, held_back, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "set_nodelay failed");
        }
        let guard = DrainGuard(drained_tx.clone());
        let state = Arc::clone(&state);
        let mut stop_rx = stop_rx.clone();
        // The worker registers the socket with its own reactor.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "cannot hand a connection to a worker");
                continue;
            }
        };
        workers.serve(move || async move {
            let stream = match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "cannot register a connection");
                    return;
                }
            };
            let header_read_timeout = state.config.header_read_timeout;
            let activity = idle::Activity::new();
            let service_activity = Arc::clone(&activity);
            let service_guard = guard.clone();
            let service = service_fn(move |req| {
                let in_flight = service_activity.begin();
                let served = http::serve(Arc::clone(&state), req, service_guard.clone());
                async move {
                    let response = served.await;
                    drop(in_flight);
                    response
                }
            });
            let conn = http1::Builder::new()
                .keep_alive(true)
                // Responses are small: one flattened write measured a little faster than writev.
                .writev(false)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                () = activity.idle_for(header_read_timeout) => {
                    tracing::debug!(%peer, "closing a connection with no request head in time");
                    Ok(())
                }
                _ = stop_rx.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
            drop(guard);
        });
    }

    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    let _ = stop_tx.send(());
    drop(drained_tx);
    if tokio::time::timeout(state.config.shutdown_drain, drained_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within the drain time");
    }
    workers.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves on a free port with `config` until the returned sender fires.
    async fn start(
        config: ServerConfig,
    ) -> (
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
        tempfile::TempDir,
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = Arc::new(Catalog::open(dir.path()).expect("open catalog"));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = Arc::new(ServerState { catalog, config });
        let task = tokio::spawn(async move {
            run(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        (addr, stop, task, dir)
    }

    #[tokio::test]
    async fn stalled_body_is_answered_with_408_request_timeout() {
        let config = ServerConfig {
            body_read_timeout: Duration::from_millis(200),
            ..ServerConfig::default()
        };
        let (addr, stop, task, _dir) = start(config).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"POST /ListTable HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            .await
            .expect("write");
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.expect("read");
        let text = String::from_utf8_lossy(&reply);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        let _ = stop.send(());
        task.await.expect("server task");
    }

    /// Reads until the server closes the connection (or `limit` passes); true if it closed.
    async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> bool {
        let mut sink = Vec::new();
        matches!(
            tokio::time::timeout(limit, stream.read_to_end(&mut sink)).await,
            Ok(Ok(_) | Err(_))
        )
    }

    #[tokio::test]
    async fn idle_and_trickling_connections_give_their_slot_back() {
        let config = ServerConfig {
            header_read_timeout: Duration::from_millis(300),
            max_connections: 2,
            ..ServerConfig::default()
        };
        let (addr, stop, task, _dir) = start(config).await;
        // One client says nothing, one stops halfway through its headers: both fill the cap.
        let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut trickling = tokio::net::TcpStream::connect(addr).await.expect("connect");
        trickling
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        assert!(closed_within(&mut idle, Duration::from_secs(10)).await);
        assert!(closed_within(&mut trickling, Duration::from_secs(10)).await);
        // Their slots are free again: a new client is served.
        let mut client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        client
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut reply = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut reply));
        read.await.expect("served in time").expect("read");
        let text = String::from_utf8_lossy(&reply);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        let _ = stop.send(());
        task.await.expect("server task");
    }

    #[tokio::test]
    async fn shutdown_returns_with_an_idle_connection_open() {
        let (addr, stop, task, _dir) = start(ServerConfig::default()).await;
        let _idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
        // Let the accept loop take the connection before stopping.
        tokio::task::yield_now().await;
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("run returns without waiting for the drain time")
            .expect("server task");
    }
}
