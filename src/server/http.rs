//! The hyper service: `GET /health`, 405 for other methods, and `POST /<Api>`: body read
//! with a hard cap (413), API name check, authentication, then the handler: reads and
//! row writes on the connection's worker (writes await their group commit), the other
//! operations on tokio's blocking pool. Every request ends in exactly one response and one
//! log line.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};
use hyper::{Method, Request, Response, StatusCode};

use super::auth;
use super::response::{self, Body, ResponseSigner};
use super::{DrainGuard, ServerState};
use crate::api::{self, Api};
use crate::error::{ErrorCode, OtsError};

/// How much of an oversized body is read and discarded after the 413 is decided, so that a
/// client still writing its body (the SDKs send the whole body before reading) sees the 413
/// instead of a connection reset. Nothing of it is buffered.
const LINGER_DRAIN_FACTOR: usize = 4;
/// Longest time spent discarding an oversized body.
const LINGER_DRAIN_TIME: Duration = Duration::from_secs(5);

/// Serves one request. Never fails: every error becomes a Tablestore error response.
pub async fn serve(
    state: Arc<ServerState>,
    req: Request<Incoming>,
    guard: DrainGuard,
) -> Result<Response<Body>, std::convert::Infallible> {
    let started = Instant::now();
    let request_id = response::new_request_id();
    let (api_label, response) = route(&state, req, &request_id, guard).await;
    response::log(
        &request_id,
        &api_label,
        response.status(),
        started.elapsed(),
    );
    Ok(response)
}

/// Answers `req`; returns the API name for the log line beside the response (a known
/// API's name is static, so the usual request allocates nothing for it).
async fn route(
    state: &Arc<ServerState>,
    req: Request<Incoming>,
    request_id: &str,
    guard: DrainGuard,
) -> (Cow<'static, str>, Response<Body>) {
    let path = req.uri().path();
    if (req.method() == Method::GET || req.method() == Method::HEAD) && path == "/health" {
        return (
            Cow::Borrowed("health"),
            response::plain(StatusCode::OK, "ok"),
        );
    }
    // Python sends `//PutRow` when the endpoint ends in `/`: the API is the last segment.
    let last = path.rsplit('/').next().unwrap_or_default();
    let api_name = match Api::parse(last) {
        Some(api) => Cow::Borrowed(api.name()),
        None => Cow::Owned(last.to_string()),
    };
    if req.method() != Method::POST {
        let err = OtsError::new(
            ErrorCode::MethodNotAllowed,
            "Only POST method for requests is supported.",
        );
        return (api_name, response::error(&err, request_id, None));
    }
    let response = post(state, req, &api_name, request_id, guard).await;
    (api_name, response)
}

async fn post(
    state: &Arc<ServerState>,
    req: Request<Incoming>,
    api_name: &str,
    request_id: &str,
    guard: DrainGuard,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let read = read_capped(body, state.config.max_body_bytes);
    let Ok(read) = tokio::time::timeout(state.config.body_read_timeout, read).await else {
        let err = OtsError::new(ErrorCode::RequestTimeout, "Request timeout.");
        return response::error(&err, request_id, None);
    };
    let body = match read {
        Ok(body) => body,
        Err(BodyError::TooLarge(rest)) => {
            linger_drain(
                rest,
                state
                    .config
                    .max_body_bytes
                    .saturating_mul(LINGER_DRAIN_FACTOR),
            );
            let err = OtsError::new(
                ErrorCode::RequestBodyTooLarge,
                "The size of POST data is too large.",
            );
            return response::error(&err, request_id, None);
        }
        Err(BodyError::Read(e)) => {
            tracing::debug!(request_id, error = %e, "request body read failed");
            let err = OtsError::param("Failed to read the request body.");
            return response::error(&err, request_id, None);
        }
    };
    let Some(api) = Api::parse(api_name) else {
        let err = OtsError::param(format!("Unsupported operation: '{api_name}'."));
        return response::error(&err, request_id, None);
    };
    let verified = match auth::verify(
        &parts.headers,
        &body,
        api.name(),
        &state.config,
        chrono::Utc::now(),
    ) {
        Ok(verified) => verified,
        Err(e) => return response::error(&OtsError::from(e), request_id, None),
    };
    let signer = ResponseSigner {
        access_key_id: verified.access_key_id,
        key: &verified.response_key,
        api_name: api.name(),
    };
    let catalog = Arc::clone(&state.catalog);
    let instance = verified.instance;
    // Small reads are bounded in-memory/mmap work, so they run here and skip the blocking
    // pool's thread hand-offs; big ones go to the pool (`Api::runs_inline`). Single-row
    // writes and BatchWriteRow check here too and await their group commit as a task (a
    // panic stays inside it), so no thread waits on the fsync; when a row lock is taken
    // they move to the blocking pool. Other writes may wait on an fsync or on many locks:
    // they run on the blocking pool. The guard keeps shutdown from closing the catalog
    // while a request runs.
    let outcome: Result<_, String> = if api.runs_inline(&body) {
        let _guard = guard;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            api::handle(&catalog, api, &instance, &body)
        }))
        .map_err(|_| "panic".to_string())
    } else if api.is_single_row_write() {
        let decoded = crate::table::catalog::validate_instance_name(&instance)
            .and_then(|()| api::single_row::SingleRowWrite::decode(api, &body));
        match decoded {
            Err(e) => Ok(Err(e)),
            Ok(write) => tokio::spawn(async move {
                let _guard = guard;
                write.run_async(catalog, instance).await
            })
            .await
            .map_err(|e| e.to_string()),
        }
    } else if api == Api::BatchWriteRow {
        tokio::spawn(async move {
            let _guard = guard;
            api::batch_write_row::batch_write_row_async(catalog, instance, body).await
        })
        .await
        .map_err(|e| e.to_string())
    } else {
        tokio::task::spawn_blocking(move || {
            let _guard = guard;
            api::handle(&catalog, api, &instance, &body)
        })
        .await
        .map_err(|e| e.to_string())
    };
    match outcome {
        Ok(Ok(bytes)) => response::build(StatusCode::OK, bytes, request_id, Some(&signer)),
        Ok(Err(err)) => response::error(&err, request_id, Some(&signer)),
        Err(what) => {
            tracing::error!(request_id, api = api.name(), error = %what, "handler panicked");
            response::error(&OtsError::internal(), request_id, Some(&signer))
        }
    }
}

enum BodyError {
    /// Over the cap; carries the unread rest of the body.
    TooLarge(Incoming),
    /// The connection failed or the framing was invalid.
    Read(hyper::Error),
}

/// Reads the whole body if it fits in `cap` bytes. A declared `Content-Length` over the cap
/// is refused before reading anything; an undeclared (chunked) body is refused as soon as
/// the bytes read exceed the cap, so at most `cap` plus one frame is ever held.
async fn read_capped(mut body: Incoming, cap: usize) -> Result<Bytes, BodyError> {
    let declared = body.size_hint().lower();
    if declared > cap as u64 {
        return Err(BodyError::TooLarge(body));
    }
    let mut buf = BytesMut::with_capacity(declared as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > cap {
                return Err(BodyError::TooLarge(body));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// Reads and discards up to `limit` more bytes of `body` in the background (bounded in bytes
/// and time), then drops it; hyper closes the connection if the body did not end.
fn linger_drain(mut body: Incoming, limit: usize) {
    tokio::spawn(async move {
        let drain = async {
            let mut discarded = 0usize;
            while let Some(Ok(frame)) = body.frame().await {
                if let Ok(data) = frame.into_data() {
                    discarded = discarded.saturating_add(data.len());
                    if discarded > limit {
                        break;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_DRAIN_TIME, drain).await;
    });
}
