//! An async Tablestore client on hyper: a keep-alive HTTP/1.1 connection pool (hyper-util's
//! legacy `Client`), V2-signed requests, verified responses (content MD5, `Authorization`),
//! `Error` answers decoded into `ClientError`, and retries with backoff (`retry.rs`). The
//! typed per-API methods and row conveniences are in `ops.rs`; wire formats in `protocol`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), otsd::client::ClientError> {
//! use otsd::client::{Client, ClientConfig};
//! let client = Client::new(ClientConfig::new("http://127.0.0.1:8800", "inst", "otsd", "otsd-secret"))?;
//! let tables = client.list_table().await?;
//! println!("{:?}", tables.table_names);
//! # Ok(()) }
//! ```

pub mod auth;
pub mod error;
pub mod ops;
pub mod retry;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::AUTHORIZATION;
use hyper::Request;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use tokio::sync::Semaphore;

pub use auth::Credentials;
pub use error::{ClientError, ServiceError};
pub use ops::{Condition, RangePage, RowWrite};
pub use retry::{BackoffKind, RetryPolicy};

use crate::protocol::pb;

/// How long an idle pooled connection is kept; below common server keep-alive timeouts so
/// we rarely reuse a connection the server is closing.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Where to connect, as whom, and how hard to try.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://host:port[/prefix]`; requests go to `<endpoint>/<ApiName>`. No TLS.
    pub endpoint: String,
    /// Instance name sent in `x-ots-instancename`.
    pub instance: String,
    /// Access key id.
    pub access_key_id: String,
    /// Access key secret (signs requests, verifies responses).
    pub access_key_secret: String,
    /// Most requests in flight at once, hence most open connections; callers beyond it wait.
    pub max_connections: usize,
    /// Longest wait for one attempt's complete response (also the connect timeout).
    pub timeout: Duration,
    /// When to retry failed attempts.
    pub retry: RetryPolicy,
    /// Check the `Authorization` signature of successful responses when present.
    pub verify_response_signature: bool,
}

impl ClientConfig {
    /// A config for `endpoint` and `instance` under the given key pair, with 64 connections,
    /// a 30 s timeout, the default retry policy and response signature checks.
    pub fn new(
        endpoint: impl Into<String>,
        instance: impl Into<String>,
        access_key_id: impl Into<String>,
        access_key_secret: impl Into<String>,
    ) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            instance: instance.into(),
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            max_connections: 64,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            verify_response_signature: true,
        }
    }
}

/// Counters of one client (shared by its clones), for load tools and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Attempts sent, retries included.
    pub attempts: u64,
    /// Attempts that were retries of a failed one.
    pub retries: u64,
}

/// A Tablestore client. Cheap to clone: clones share the pool, limits and counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
    /// The endpoint without a trailing `/`.
    base: String,
    credentials: Credentials,
    in_flight: Semaphore,
    timeout: Duration,
    retry: RetryPolicy,
    verify_response_signature: bool,
    attempts: AtomicU64,
    retries: AtomicU64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.base)
            .field("credentials", &self.inner.credentials)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds a client. No connection is made until the first request; requests must run
    /// inside a tokio runtime.
    ///
    /// # Errors
    /// `ClientError::Config` when the endpoint is not an `http://` URL with a host, or
    /// `max_connections` is zero.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let base = config.endpoint.trim_end_matches('/').to_string();
        let uri: hyper::Uri = base
            .parse()
            .map_err(|e| ClientError::Config(format!("endpoint '{}': {e}", config.endpoint)))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(ClientError::Config(format!(
                "endpoint '{}' must be http://host[:port] (TLS is not supported)",
                config.endpoint
            )));
        }
        if config.max_connections == 0 {
            return Err(ClientError::Config(
                "max_connections must be at least 1".into(),
            ));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.timeout));
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(config.max_connections)
            .build(connector);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                credentials: Credentials {
                    access_key_id: config.access_key_id,
                    access_key_secret: config.access_key_secret,
                    instance: config.instance,
                },
                in_flight: Semaphore::new(config.max_connections),
                timeout: config.timeout,
                retry: config.retry,
                verify_response_signature: config.verify_response_signature,
                attempts: AtomicU64::new(0),
                retries: AtomicU64::new(0),
            }),
        })
    }

    /// The endpoint requests go to (without a trailing `/`).
    pub fn endpoint(&self) -> &str {
        &self.inner.base
    }

    /// The key pair and instance this client signs with.
    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// Attempts and retries so far, over all clones of this client.
    pub fn stats(&self) -> ClientStats {
        ClientStats {
            attempts: self.inner.attempts.load(Ordering::Relaxed),
            retries: self.inner.retries.load(Ordering::Relaxed),
        }
    }

    /// Calls `api` with `req` and decodes the response as `Resp`, retrying per the policy.
    ///
    /// # Errors
    /// The last attempt's error once retries are exhausted or not allowed; `Decode` when a
    /// successful body is not a `Resp`.
    pub async fn call<Req, Resp>(&self, api: &str, req: &Req) -> Result<Resp, ClientError>
    where
        Req: Message,
        Resp: Message + Default,
    {
        let body = self.call_raw(api, Bytes::from(req.encode_to_vec())).await?;
        Resp::decode(body).map_err(|e| ClientError::Decode {
            api: api.to_string(),
            what: e.to_string(),
        })
    }

    /// Sends an already encoded request body to `api` and returns the successful response
    /// body, retrying per the policy.
    ///
    /// # Errors
    /// As `call`, without the decoding.
    pub async fn call_raw(&self, api: &str, body: Bytes) -> Result<Bytes, ClientError> {
        let started = Instant::now();
        let mut attempts = 0u32;
        loop {
            attempts = attempts.saturating_add(1);
            let err = match self.attempt(api, &body).await {
                Ok(response) => return Ok(response),
                Err(err) => err,
            };
            let Some(delay) = self
                .inner
                .retry
                .next_delay(api, &err, attempts, started.elapsed())
            else {
                return Err(err);
            };
            tracing::debug!(api, attempts, ?delay, error = %err, "retrying");
            self.inner.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
        }
    }

    /// One signed request and its checked response.
    async fn attempt(&self, api: &str, body: &Bytes) -> Result<Bytes, ClientError> {
        let inner = &*self.inner;
        // The semaphore is never closed, so acquiring only waits.
        let _permit = inner
            .in_flight
            .acquire()
            .await
            .map_err(|_| ClientError::Config("client is shut down".into()))?;
        inner.attempts.fetch_add(1, Ordering::Relaxed);
        let headers = auth::signed_headers(&inner.credentials, api, body, &auth::request_date());
        let mut builder = Request::post(format!("{}/{api}", inner.base));
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(body.clone()))
            .map_err(|e| ClientError::Config(format!("cannot build request for {api}: {e}")))?;
        let exchange = async {
            let response = inner.http.request(request).await.map_err(|e| {
                let detail = error_chain(&e);
                if e.is_connect() {
                    ClientError::Connect {
                        api: api.to_string(),
                        detail,
                    }
                } else {
                    ClientError::Network {
                        api: api.to_string(),
                        detail,
                    }
                }
            })?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| ClientError::Network {
                    api: api.to_string(),
                    detail: error_chain(&e),
                })?
                .to_bytes();
            Ok((parts, body))
        };
        let (parts, response_body) = tokio::time::timeout(inner.timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout {
                api: api.to_string(),
                timeout: inner.timeout,
            })??;
        self.check_response(api, &parts, response_body)
    }

    /// Verifies MD5 and signature of a response and turns a non-2xx answer into an error.
    fn check_response(
        &self,
        api: &str,
        parts: &hyper::http::response::Parts,
        body: Bytes,
    ) -> Result<Bytes, ClientError> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(md5) = header(auth::CONTENT_MD5_HEADER) {
            if !auth::response_md5_matches(md5, &body) {
                return Err(ClientError::ResponseMd5Mismatch {
                    api: api.to_string(),
                });
            }
        }
        let status = parts.status.as_u16();
        if parts.status.is_success() {
            if self.inner.verify_response_signature {
                if let Some(authorization) = header(AUTHORIZATION.as_str()) {
                    let ots_headers = parts
                        .headers
                        .iter()
                        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)));
                    if !auth::response_signature_matches(
                        &self.inner.credentials,
                        api,
                        ots_headers,
                        authorization,
                    ) {
                        return Err(ClientError::ResponseSignatureMismatch {
                            api: api.to_string(),
                        });
                    }
                }
            }
            return Ok(body);
        }
        match pb::Error::decode(body.as_ref()) {
            Ok(error) if !error.code.is_empty() => Err(ClientError::Service {
                api: api.to_string(),
                error: ServiceError {
                    status,
                    code: error.code,
                    message: error.message.unwrap_or_default(),
                    request_id: header(auth::REQUEST_ID_HEADER).map(str::to_string),
                },
            }),
            _ => Err(ClientError::HttpStatus {
                api: api.to_string(),
                status,
                body_len: body.len(),
            }),
        }
    }
}

/// An error and its sources joined with `: `, since hyper's top-level messages are terse.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests;
