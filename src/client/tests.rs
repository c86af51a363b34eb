//! Client tests against a scripted in-process hyper server that verifies every request with
//! the server's own `auth::verify` and answers with the server's own response builder:
//! retries, error decoding, response integrity checks, timeouts and connect failures.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use prost::Message;

use super::*;
use crate::api::Api;
use crate::config::ServerConfig;
use crate::error::{ErrorCode, OtsError};
use crate::server::response::{self, ResponseSigner};

const KEY_ID: &str = "ak";
const SECRET: &str = "sk";

/// What the scripted server does for the `n`-th request (0-based) to `api`.
type Script = dyn Fn(usize, Api) -> Reply + Send + Sync;

enum Reply {
    /// 200 with this body, signed with `SECRET`.
    Ok(Vec<u8>),
    /// The error answer of this code, signed.
    Error(ErrorCode),
    /// A raw status and body without any protocol headers.
    Raw(u16, &'static [u8]),
    /// 200 whose x-ots-contentmd5 is of a different body.
    BadMd5(Vec<u8>),
    /// 200 signed with the wrong key.
    BadSignature(Vec<u8>),
    /// Answer after a delay.
    Slow(Duration),
}

struct Fake {
    endpoint: String,
    hits: Arc<AtomicUsize>,
}

async fn fake(script: impl Fn(usize, Api) -> Reply + Send + Sync + 'static) -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let script: Arc<Script> = Arc::new(script);
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let script = Arc::clone(&script);
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let script = Arc::clone(&script);
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    async move { Ok::<_, Infallible>(answer(req, n, &*script).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Fake {
        endpoint: format!("http://{addr}"),
        hits,
    }
}

async fn answer(
    req: hyper::Request<Incoming>,
    n: usize,
    script: &Script,
) -> Response<response::Body> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.expect("request body").to_bytes();
    let name = parts.uri.path().trim_start_matches('/');
    let api = Api::parse(name).expect("client calls a known API");
    // Every request the client sends must pass the server's own authentication.
    let config = ServerConfig::with_key(KEY_ID, SECRET);
    let verified = crate::server::auth::verify(
        &parts.headers,
        &body,
        api.name(),
        &config,
        chrono::Utc::now(),
    )
    .expect("client request verifies");
    assert_eq!(verified.instance, "inst");
    let signer = ResponseSigner {
        access_key_id: KEY_ID,
        key: SECRET,
        api_name: api.name(),
    };
    let rid = format!("rid-{n}");
    match script(n, api) {
        Reply::Ok(body) => response::build(StatusCode::OK, body, &rid, Some(&signer)),
        Reply::Error(code) => {
            response::error(&OtsError::new(code, "scripted"), &rid, Some(&signer))
        }
        Reply::Raw(status, body) => {
            let mut r = Response::new(Full::new(Bytes::from_static(body)));
            *r.status_mut() = StatusCode::from_u16(status).expect("valid status");
            r
        }
        Reply::BadMd5(body) => {
            let mut r = response::build(StatusCode::OK, body, &rid, None);
            r.headers_mut().insert(
                "x-ots-contentmd5",
                hyper::header::HeaderValue::from_static("1B2M2Y8AsgTpgAmY7PhCfg=="),
            );
            r
        }
        Reply::BadSignature(body) => {
            let wrong = ResponseSigner {
                key: "not-the-secret",
                ..signer
            };
            response::build(StatusCode::OK, body, &rid, Some(&wrong))
        }
        Reply::Slow(delay) => {
            tokio::time::sleep(delay).await;
            response::build(StatusCode::OK, Vec::new(), &rid, Some(&signer))
        }
    }
}

fn client(endpoint: &str, max_attempts: u32) -> Client {
    let mut config = ClientConfig::new(endpoint, "inst", KEY_ID, SECRET);
    config.timeout = Duration::from_secs(5);
    config.retry = RetryPolicy {
        max_attempts,
        max_elapsed: Duration::from_secs(10),
        base_delay: Duration::from_millis(1),
        throttled_base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(5),
    };
    Client::new(config).expect("valid config")
}

fn tables(names: &[&str]) -> Vec<u8> {
    pb::ListTableResponse {
        table_names: names.iter().map(|s| s.to_string()).collect(),
    }
    .encode_to_vec()
}

#[tokio::test]
async fn signed_call_decodes_the_response() {
    let fake = fake(|_, api| {
        assert_eq!(api, Api::ListTable);
        Reply::Ok(tables(&["a", "b"]))
    })
    .await;
    let c = client(&fake.endpoint, 3);
    let resp = c.list_table().await.expect("list");
    assert_eq!(resp.table_names, ["a", "b"]);
    assert_eq!(
        c.stats(),
        ClientStats {
            attempts: 1,
            retries: 0
        }
    );
}

#[tokio::test]
async fn busy_answers_are_retried_until_success() {
    let fake = fake(|n, _| {
        if n < 2 {
            Reply::Error(ErrorCode::ServerBusy)
        } else {
            Reply::Ok(pb::PutRowResponse::default().encode_to_vec())
        }
    })
    .await;
    let c = client(&fake.endpoint, 5);
    c.put_row(&pb::PutRowRequest::default())
        .await
        .expect("third attempt succeeds");
    assert_eq!(fake.hits.load(Ordering::SeqCst), 3);
    assert_eq!(
        c.stats(),
        ClientStats {
            attempts: 3,
            retries: 2
        }
    );
}

#[tokio::test]
async fn non_retriable_errors_are_returned_after_one_attempt_with_all_fields() {
    let fake = fake(|_, _| Reply::Error(ErrorCode::ObjectNotExist)).await;
    let c = client(&fake.endpoint, 5);
    let err = c
        .describe_table(&pb::DescribeTableRequest {
            table_name: "nope".into(),
        })
        .await
        .expect_err("404");
    assert_eq!(fake.hits.load(Ordering::SeqCst), 1);
    let service = err.service().expect("service error");
    assert_eq!(service.status, 404);
    assert_eq!(service.code, "OTSObjectNotExist");
    assert_eq!(service.message, "scripted");
    assert_eq!(service.request_id.as_deref(), Some("rid-0"));
    assert_eq!(c.stats().retries, 0);
}

#[tokio::test]
async fn internal_errors_retry_reads_but_not_writes_and_attempts_are_bounded() {
    let fake = fake(|_, _| Reply::Error(ErrorCode::InternalServerError)).await;
    let c = client(&fake.endpoint, 3);
    let err = c
        .put_row(&pb::PutRowRequest::default())
        .await
        .expect_err("500");
    assert_eq!(err.error_code(), Some(ErrorCode::InternalServerError));
    assert_eq!(fake.hits.load(Ordering::SeqCst), 1);
    let err = c
        .get_row(&pb::GetRowRequest::default())
        .await
        .expect_err("500");
    assert_eq!(err.http_status(), Some(500));
    assert_eq!(fake.hits.load(Ordering::SeqCst), 1 + 3);
}

#[tokio::test]
async fn undecodable_error_bodies_keep_their_status() {
    let fake = fake(|_, _| Reply::Raw(502, b"<html>bad gateway</html>")).await;
    let c = client(&fake.endpoint, 2);
    let err = c.list_table().await.expect_err("502");
    assert!(
        matches!(err, ClientError::HttpStatus { status: 502, .. }),
        "{err}"
    );
    // A read: retried once more within max_attempts 2.
    assert_eq!(fake.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn corrupted_and_forged_responses_are_rejected() {
    let fake = fake(|_, api| match api {
        Api::ListTable => Reply::BadMd5(tables(&["x"])),
        _ => Reply::BadSignature(pb::PutRowResponse::default().encode_to_vec()),
    })
    .await;
    let c = client(&fake.endpoint, 1);
    let err = c.list_table().await.expect_err("md5");
    assert!(
        matches!(err, ClientError::ResponseMd5Mismatch { .. }),
        "{err}"
    );
    let err = c
        .put_row(&pb::PutRowRequest::default())
        .await
        .expect_err("sig");
    assert!(
        matches!(err, ClientError::ResponseSignatureMismatch { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn unsigned_successes_are_accepted_and_bodies_of_the_wrong_type_are_not() {
    let fake = fake(|_, _| Reply::Raw(200, b"\xff\xff\xff")).await;
    let c = client(&fake.endpoint, 3);
    let err = c.list_table().await.expect_err("garbage protobuf");
    assert!(matches!(err, ClientError::Decode { .. }), "{err}");
    assert_eq!(fake.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn slow_answers_time_out_per_attempt() {
    let fake = fake(|_, _| Reply::Slow(Duration::from_secs(2))).await;
    let mut config = ClientConfig::new(&fake.endpoint, "inst", KEY_ID, SECRET);
    config.timeout = Duration::from_millis(100);
    config.retry = RetryPolicy::none();
    let c = Client::new(config).expect("config");
    let err = c
        .delete_table(&pb::DeleteTableRequest::default())
        .await
        .expect_err("timeout");
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn refused_connections_are_retried_for_writes_too() {
    // Bind and drop a listener to find a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let c = client(&format!("http://127.0.0.1:{port}"), 3);
    let err = c
        .put_row(&pb::PutRowRequest::default())
        .await
        .expect_err("refused");
    assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    assert_eq!(
        c.stats(),
        ClientStats {
            attempts: 3,
            retries: 2
        }
    );
}

#[test]
fn endpoints_must_be_plain_http_with_a_host() {
    let make = |e: &str| Client::new(ClientConfig::new(e, "i", "a", "s"));
    assert!(make("https://example.com").is_err());
    assert!(make("not a url").is_err());
    let c = make("http://127.0.0.1:8800/").expect("trailing slash is fine");
    assert_eq!(c.endpoint(), "http://127.0.0.1:8800");
    let mut zero = ClientConfig::new("http://h", "i", "a", "s");
    zero.max_connections = 0;
    assert!(Client::new(zero).is_err());
}
