//! Every response otsd sends: the `x-ots-*` headers (content MD5, request id, date, content
//! type), the response signature in `Authorization` (computed last, over exactly those
//! headers), the Error protobuf for failures, and the one tracing line per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION};
use hyper::{Response, StatusCode};
use prost::Message;

use crate::error::OtsError;
use crate::protocol::sign::{CONTENT_MD5_HEADER, DATE_HEADER, REQUEST_ID_HEADER};
use crate::protocol::{pb, sign};

/// `x-ots-contenttype` of a response.
pub const CONTENT_TYPE_HEADER: &str = "x-ots-contenttype";
/// The value the real service sends in `x-ots-contenttype`.
pub const CONTENT_TYPE_PROTOBUF: &str = "protocol buffer";

/// The body type of every response.
pub type Body = Full<Bytes>;

/// Who signs a response: the request's access key id and the key its signature proved
/// (the secret for V2 clients, the V4 signing key text for V4 clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseSigner<'a> {
    /// Repeated in `Authorization: OTS <id>:<signature>`.
    pub access_key_id: &'a str,
    /// The HMAC key of the response signature.
    pub key: &'a str,
    /// The API name signed as `/<api>`.
    pub api_name: &'static str,
}

/// A unique request id: the process start time (so ids differ across restarts) and a
/// per-process counter, both in hex.
pub fn new_request_id() -> String {
    static START: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let start = *START.get_or_init(|| {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        // Microseconds fit in 64 bits for the next half million years.
        since_epoch.as_micros() as u64
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut id = String::with_capacity(24);
    push_hex(&mut id, start, 14);
    id.push('-');
    push_hex(&mut id, n, 8);
    id
}

/// Appends `v` in lower-case hex, zero-padded to at least `width` digits (`{v:0width$x}`
/// without the formatter, which showed in the request profile).
fn push_hex(out: &mut String, v: u64, width: usize) {
    let digits = (16 - v.leading_zeros() as usize / 4).max(width).max(1);
    for i in (0..digits).rev() {
        let nibble = if i < 16 { (v >> (i * 4)) & 0xf } else { 0 };
        out.push(char::from(b"0123456789abcdef"[nibble as usize]));
    }
}

/// The date format of `x-ots-date` in responses (Python parses it with `%f`). Formatted
/// once per second per thread: chrono's formatter was a few percent of a GetRow's CPU. The
/// value is shared, so each response's copy is a reference count, not an allocation.
pub fn response_date() -> HeaderValue {
    thread_local! {
        static CACHE: std::cell::RefCell<(i64, HeaderValue)> = const {
            std::cell::RefCell::new((i64::MIN, HeaderValue::from_static("")))
        };
    }
    let now = chrono::Utc::now();
    let second = now.timestamp();
    CACHE.with_borrow_mut(|cache| {
        if cache.0 != second {
            let text = now.format("%Y-%m-%dT%H:%M:%S.000Z").to_string();
            // A formatted date is visible ASCII.
            let value = HeaderValue::from_maybe_shared(Bytes::from(text))
                .unwrap_or_else(|_| HeaderValue::from_static(""));
            *cache = (second, value);
        }
        cache.1.clone()
    })
}

/// Builds a response with the four `x-ots-*` headers and, when `signer` is given, the
/// `Authorization` signature over exactly those headers.
pub fn build(
    status: StatusCode,
    body: Vec<u8>,
    request_id: &str,
    signer: Option<&ResponseSigner<'_>>,
) -> Response<Body> {
    let md5 = sign::content_md5_text(&body);
    let date = response_date();
    let authorization = signer.map(|signer| {
        let signature = sign::response_signature(
            signer.key,
            signer.api_name,
            [
                (CONTENT_MD5_HEADER, md5.as_str()),
                (CONTENT_TYPE_HEADER, CONTENT_TYPE_PROTOBUF),
                (DATE_HEADER, date.to_str().unwrap_or_default()),
                (REQUEST_ID_HEADER, request_id),
            ],
        );
        sign::authorization_header(signer.access_key_id, signature.as_str())
    });
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let map = response.headers_mut();
    map.reserve(5);
    insert(
        map,
        HeaderName::from_static(CONTENT_MD5_HEADER),
        md5.as_str(),
    );
    insert(map, HeaderName::from_static(REQUEST_ID_HEADER), request_id);
    map.insert(HeaderName::from_static(DATE_HEADER), date);
    map.insert(
        HeaderName::from_static(CONTENT_TYPE_HEADER),
        HeaderValue::from_static(CONTENT_TYPE_PROTOBUF),
    );
    if let Some(authorization) = authorization {
        insert_owned(map, AUTHORIZATION, authorization);
    }
    response
}

/// The serialized `Error { code, message }` protobuf of `err`.
pub fn error_body(err: &OtsError) -> Vec<u8> {
    pb::Error {
        code: err.code.as_str().to_string(),
        message: Some(err.message.clone()),
        ..Default::default()
    }
    .encode_to_vec()
}

/// An error response: status from the error code, body the Error protobuf.
pub fn error(
    err: &OtsError,
    request_id: &str,
    signer: Option<&ResponseSigner<'_>>,
) -> Response<Body> {
    let status =
        StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    build(status, error_body(err), request_id, signer)
}

/// A plain-text response without protocol headers (health checks).
pub fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    response
}

/// The one tracing line of a request, at debug level.
pub fn log(request_id: &str, api: &str, status: StatusCode, latency: Duration) {
    tracing::debug!(
        request_id,
        api,
        status = status.as_u16(),
        latency_us = latency.as_micros() as u64,
        "request"
    );
}

// Values are base64, hex or ASCII ids; one that could not be a header would be a bug here,
// so it is logged rather than panicking.
fn insert(map: &mut hyper::HeaderMap, name: HeaderName, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(value) => {
            map.insert(name, value);
        }
        Err(_) => tracing::error!(%name, "response header not representable"),
    }
}

/// `insert` of a value already in a String of its own, whose buffer the header takes over.
fn insert_owned(map: &mut hyper::HeaderMap, name: HeaderName, value: String) {
    match HeaderValue::try_from(value) {
        Ok(value) => {
            map.insert(name, value);
        }
        Err(_) => tracing::error!(%name, "response header not representable"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn header<'r>(response: &'r Response<Body>, name: &str) -> &'r str {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("header {name} missing"))
    }

    #[test]
    fn response_date_is_the_current_second_in_ots_format() {
        let before = chrono::Utc::now().timestamp();
        let date = response_date();
        let date = date.to_str().expect("ASCII date");
        let after = chrono::Utc::now().timestamp();
        assert_eq!(date.len(), "2026-11-28T10:50:19.000Z".len(), "{date}");
        assert!(date.ends_with(".000Z"), "{date}");
        let parsed = crate::server::auth::parse_date(date).unwrap().timestamp();
        assert!((before..=after).contains(&parsed), "{date}");
    }

    #[test]
    fn signed_response_carries_ots_headers_and_a_verifiable_authorization() {
        let signer = ResponseSigner {
            access_key_id: "ak_id",
            key: "ak_secret",
            api_name: "ListTable",
        };
        let response = build(StatusCode::OK, Vec::new(), "rid-1", Some(&signer));
        assert_eq!(
            header(&response, "x-ots-contentmd5"),
            "1B2M2Y8AsgTpgAmY7PhCfg=="
        );
        assert_eq!(header(&response, "x-ots-requestid"), "rid-1");
        assert_eq!(header(&response, "x-ots-contenttype"), "protocol buffer");
        let date = header(&response, "x-ots-date");
        assert!(crate::server::auth::parse_date(date).is_ok(), "{date}");
        let pairs: Vec<(&str, &str)> = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
            .collect();
        let block = sign::canonical_headers(pairs, "authorization");
        let expected = sign::sign_response("ak_secret", &block, "ListTable");
        assert_eq!(
            header(&response, "authorization"),
            format!("OTS ak_id:{expected}")
        );
    }

    #[test]
    fn unsigned_error_response_has_status_body_and_no_authorization() {
        let err = OtsError::new(
            ErrorCode::RequestBodyTooLarge,
            "The size of POST data is too large.",
        );
        let response = error(&err, "rid-2", None);
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(response.headers().get("authorization").is_none());
        let decoded = pb::Error::decode(error_body(&err).as_slice()).expect("error decodes");
        assert_eq!(decoded.code, "OTSRequestBodyTooLarge");
        assert_eq!(
            decoded.message.as_deref(),
            Some("The size of POST data is too large.")
        );
    }

    #[test]
    fn hex_matches_the_formatter() {
        for (v, width) in [
            (0u64, 8),
            (0xabc, 8),
            (u64::MAX, 8),
            (0x1234_5678_9abc, 14),
            (1, 0),
            (0, 0),
        ] {
            let mut s = String::new();
            push_hex(&mut s, v, width);
            assert_eq!(s, format!("{v:0width$x}"));
        }
    }

    #[test]
    fn request_ids_are_unique() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
    }
}
