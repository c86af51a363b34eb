//! Request authentication: required `x-ots-*` headers, API version, `x-ots-date` format and
//! skew, access key lookup, content MD5 and the V2/V4 signature. Signature arithmetic lives
//! in `protocol::sign`; this file decides what to check, in which order, and what to answer.

use std::borrow::Cow;
use std::cell::RefCell;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use hyper::HeaderMap;

use crate::config::ServerConfig;
use crate::error::{ErrorCode, OtsError};
use crate::protocol::sign::{
    self, ACCESS_KEY_ID_HEADER, API_VERSION, API_VERSION_HEADER, CONTENT_MD5_HEADER, DATE_HEADER,
    INSTANCE_HEADER,
};

/// Why a request was refused before reaching its handler. `Display` is the exact message the
/// client sees; `code()` its Tablestore error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A required header is absent.
    #[error("Missing header: '{0}'.")]
    MissingHeader(&'static str),
    /// A header value holds bytes that are not visible ASCII.
    #[error("Invalid header value: '{0}'.")]
    InvalidHeaderValue(&'static str),
    /// `x-ots-apiversion` is not the version otsd speaks.
    #[error("Unsupported API version: '{0}'.")]
    UnsupportedApiVersion(String),
    /// `x-ots-date` does not parse as ISO-8601 UTC.
    #[error("Invalid date format: {0}.")]
    InvalidDate(String),
    /// `x-ots-date` is too far from the server clock.
    #[error("Mismatch between system time and x-ots-date: {0}.")]
    DateSkew(String),
    /// The access key id is not configured.
    #[error("The AccessKeyID does not exist.")]
    UnknownAccessKey,
    /// `x-ots-contentmd5` is not the MD5 of the body.
    #[error("Mismatch between MD5 value of request body and x-ots-contentmd5 in header.")]
    ContentMd5Mismatch,
    /// The signature does not verify.
    #[error("Signature mismatch.")]
    SignatureMismatch,
}

impl AuthError {
    /// The Tablestore error code: malformed requests are 400 parameter errors, everything a
    /// wrong credential or clock can cause is 403 OTSAuthFailed.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::MissingHeader(_)
            | AuthError::InvalidHeaderValue(_)
            | AuthError::UnsupportedApiVersion(_)
            | AuthError::InvalidDate(_) => ErrorCode::ParameterInvalid,
            AuthError::DateSkew(_)
            | AuthError::UnknownAccessKey
            | AuthError::ContentMd5Mismatch
            | AuthError::SignatureMismatch => ErrorCode::AuthFailed,
        }
    }
}

impl From<AuthError> for OtsError {
    fn from(err: AuthError) -> OtsError {
        OtsError::new(err.code(), err.to_string())
    }
}

/// What a verified request proved: who signed it, for which instance, and the key its
/// response must be signed with (the secret for V2, the V4 signing key text for V4). The
/// id and a V2 key are borrowed from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<'c> {
    /// The request's access key id (repeated in the response `Authorization`).
    pub access_key_id: &'c str,
    /// The instance the request addresses; otsd accepts any name.
    pub instance: String,
    /// The key that signs the response.
    pub response_key: Cow<'c, str>,
}

/// Checks a request in the documented order: required headers, API version, date format,
/// date skew (against `now`), access key, content MD5, signature (V4 when
/// `x-ots-signaturev4` is present, else V2). `api_name` is the name signed as `/<api_name>`.
pub fn verify<'c>(
    headers: &HeaderMap,
    body: &[u8],
    api_name: &str,
    config: &'c ServerConfig,
    now: DateTime<Utc>,
) -> Result<Verified<'c>, AuthError> {
    let date = required(headers, DATE_HEADER)?;
    let api_version = required(headers, API_VERSION_HEADER)?;
    let access_key_id = required(headers, ACCESS_KEY_ID_HEADER)?;
    let instance = required(headers, INSTANCE_HEADER)?;
    let content_md5 = required(headers, CONTENT_MD5_HEADER)?;
    let v4_signature = optional(headers, sign::SIGNATURE_V4_HEADER)?;
    let v2_signature = match v4_signature {
        Some(_) => None,
        None => Some(required(headers, sign::SIGNATURE_HEADER)?),
    };

    if api_version != API_VERSION {
        return Err(AuthError::UnsupportedApiVersion(api_version.to_string()));
    }
    let request_time = parse_date(date)?;
    if let Some(max_skew) = config.max_date_skew {
        if skew(now, request_time) > max_skew {
            return Err(AuthError::DateSkew(date.to_string()));
        }
    }
    let (access_key_id, secret) = config
        .key_pair(access_key_id)
        .ok_or(AuthError::UnknownAccessKey)?;
    let body_md5 = sign::content_md5_text(body);
    if !sign::constant_time_eq(body_md5.as_str().as_bytes(), content_md5.as_bytes()) {
        return Err(AuthError::ContentMd5Mismatch);
    }

    let response_key = match (v4_signature, v2_signature) {
        (Some(given), _) => {
            let sign_date = required(headers, sign::SIGN_DATE_HEADER)?;
            let region = required(headers, sign::SIGN_REGION_HEADER)?;
            let key = v4_signing_key(secret, sign_date, region);
            let expected = sign::request_signature_v4(&key, api_name, ots_headers(headers));
            check_signature(expected.as_str(), given)?;
            Cow::Owned(key)
        }
        (None, Some(given)) => {
            let expected = sign::request_signature_v2(secret, api_name, ots_headers(headers));
            check_signature(expected.as_str(), given)?;
            Cow::Borrowed(secret)
        }
        (None, None) => return Err(AuthError::MissingHeader(sign::SIGNATURE_HEADER)),
    };

    Ok(Verified {
        access_key_id,
        instance: instance.to_string(),
        response_key,
    })
}

/// The V4 signing key of `secret` for `sign_date` and `region`, derived once per thread
/// for as long as they stay the same: the derivation is four HMAC-SHA256 rounds, and a
/// client signs all of a day's requests with one key.
fn v4_signing_key(secret: &str, sign_date: &str, region: &str) -> String {
    thread_local! {
        static LAST: RefCell<Option<([String; 3], String)>> = const { RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some(([s, d, r], key)) if s == secret && d == sign_date && r == region => key.clone(),
        _ => {
            let key = sign::v4_signing_key(secret, sign_date, region);
            let inputs = [secret, sign_date, region].map(str::to_string);
            *last = Some((inputs, key.clone()));
            key
        }
    })
}

/// Parses `x-ots-date`: ISO-8601 UTC with a `Z` suffix, with or without fractional seconds
/// (Python sends `.000`, Node real milliseconds, some clients none).
pub fn parse_date(value: &str) -> Result<DateTime<Utc>, AuthError> {
    parse_date_fast(value.as_bytes())
        .or_else(|| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.fZ").ok())
        .map(|naive| naive.and_utc())
        .ok_or_else(|| AuthError::InvalidDate(value.to_string()))
}

/// The fixed-width form every SDK sends (`2026-11-28T12:00:00[.fff]Z`), read without
/// chrono's format-string interpreter (a visible share of a request's CPU); anything else
/// goes to the general parser.
fn parse_date_fast(b: &[u8]) -> Option<NaiveDateTime> {
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b.get(range)?.iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if b.len() < 20 || seps.iter().any(|&(i, c)| b[i] != c) || b.last() != Some(&b'Z') {
        return None;
    }
    let millis = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', _, _, _] => num(20..23)?,
        _ => return None,
    };
    chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?.and_hms_milli_opt(
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
        millis,
    )
}

fn skew(a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
    (a - b).abs().to_std().unwrap_or(Duration::MAX)
}

fn check_signature(expected: &str, given: &str) -> Result<(), AuthError> {
    if sign::constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        Ok(())
    } else {
        Err(AuthError::SignatureMismatch)
    }
}

fn required<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, AuthError> {
    optional(headers, name)?.ok_or(AuthError::MissingHeader(name))
}

fn optional<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<Option<&'h str>, AuthError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim()))
            .map_err(|_| AuthError::InvalidHeaderValue(name)),
    }
}

/// The request's `x-ots-*` headers as received, the ones a signature covers. A value that
/// is not UTF-8 signs as a replacement character; such a request simply fails to verify.
fn ots_headers(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with(sign::OTS_HEADER_PREFIX))
        .map(|(name, value)| {
            let value = std::str::from_utf8(value.as_bytes()).unwrap_or("\u{fffd}");
            (name.as_str(), value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_v4_keys_follow_the_secret_date_and_region() {
        let cases = [
            ("s", "20261201", "cn-hangzhou"),
            ("s", "20261201", "cn-hangzhou"),
            ("s", "20261202", "cn-hangzhou"),
            ("s", "20261202", "cn-shanghai"),
            ("t", "20261202", "cn-shanghai"),
            ("s", "20261201", "cn-hangzhou"),
        ];
        for (secret, date, region) in cases {
            assert_eq!(
                v4_signing_key(secret, date, region),
                sign::v4_signing_key(secret, date, region),
                "{secret} {date} {region}"
            );
        }
    }
    use hyper::header::{HeaderName, HeaderValue};

    const DATE: &str = "2024-01-02T03:04:05.000Z";

    fn now() -> DateTime<Utc> {
        parse_date(DATE).expect("test date parses")
    }

    fn config() -> ServerConfig {
        ServerConfig::with_key("ak_id", "ak_secret")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
                HeaderValue::from_str(value).expect("test header value"),
            );
        }
        map
    }

    /// The PROTOCOL.md §3.2 request: ListTable, empty body, V2 signature.
    fn v2_request() -> Vec<(&'static str, &'static str)> {
        vec![
            ("x-ots-date", DATE),
            ("x-ots-apiversion", "2015-12-31"),
            ("x-ots-accesskeyid", "ak_id"),
            ("x-ots-instancename", "inst"),
            ("x-ots-contentmd5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
            ("x-ots-signature", "QIOhuZuqJZZKiRVB3Oxt4RxkVq8="),
        ]
    }

    fn with(
        mut pairs: Vec<(&'static str, &'static str)>,
        name: &'static str,
        value: &'static str,
    ) -> Vec<(&'static str, &'static str)> {
        pairs.retain(|(n, _)| *n != name);
        pairs.push((name, value));
        pairs
    }

    fn check(pairs: &[(&str, &str)]) -> Result<Verified<'static>, AuthError> {
        // A verified request borrows its configuration; a test's may live forever.
        let config: &'static ServerConfig = Box::leak(Box::new(config()));
        verify(&headers(pairs), b"", "ListTable", config, now())
    }

    #[test]
    fn protocol_v2_vector_verifies_and_signs_response_with_secret() {
        let verified = check(&v2_request()).expect("vector verifies");
        assert_eq!(verified.access_key_id, "ak_id");
        assert_eq!(verified.instance, "inst");
        assert_eq!(verified.response_key, "ak_secret");
    }

    #[test]
    fn protocol_v4_vector_verifies_and_signs_response_with_derived_key() {
        let mut pairs = v2_request();
        pairs.retain(|(n, _)| *n != "x-ots-signature");
        pairs.push(("x-ots-signdate", "20240102"));
        pairs.push(("x-ots-signregion", "cn-hangzhou"));
        pairs.push((
            "x-ots-signaturev4",
            "e3M1TzaikyNfQmp7m5HTacJtX198eaA8ET/JGSqrMG0=",
        ));
        let verified = check(&pairs).expect("v4 vector verifies");
        assert_eq!(
            verified.response_key,
            "LP2qkHs9XYDrbUzznsKBRP2bckci+8EU9oYp1CCZSBU="
        );
    }

    #[test]
    fn each_missing_required_header_is_named() {
        for name in [
            "x-ots-date",
            "x-ots-apiversion",
            "x-ots-accesskeyid",
            "x-ots-instancename",
            "x-ots-contentmd5",
            "x-ots-signature",
        ] {
            let mut pairs = v2_request();
            pairs.retain(|(n, _)| *n != name);
            let err = check(&pairs).expect_err("missing header refused");
            assert_eq!(err.to_string(), format!("Missing header: '{name}'."));
            assert_eq!(err.code(), ErrorCode::ParameterInvalid);
        }
    }

    #[test]
    fn dates_with_and_without_fraction_parse_and_garbage_does_not() {
        assert!(parse_date("2024-01-02T03:04:05Z").is_ok());
        assert!(parse_date("2024-01-02T03:04:05.123Z").is_ok());
        assert!(parse_date("2024-01-02T03:04:05.123456Z").is_ok());
        for bad in [
            "yesterday",
            "2024-01-02 03:04:05",
            "2024-01-02T03:04:05.000",
            "",
        ] {
            assert_eq!(
                parse_date(bad),
                Err(AuthError::InvalidDate(bad.to_string()))
            );
        }
        let err = check(&with(v2_request(), "x-ots-date", "not-a-date")).expect_err("bad date");
        assert_eq!(err.to_string(), "Invalid date format: not-a-date.");
    }

    #[test]
    fn the_fast_date_reader_agrees_with_chrono() {
        let chrono_parse = |v: &str| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.fZ").ok();
        for v in [
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:05.123Z",
            "2024-02-29T23:59:59.999Z",
            "2023-02-29T00:00:00.000Z",
            "2024-13-01T00:00:00.000Z",
            "2024-01-02T24:00:00.000Z",
            "2024-01-02T03:04:05.12aZ",
            "2024-01-02T03:04:05.12Z",
            "2024-01-02T03:04:05.1234Z",
            "+024-01-02T03:04:05.000Z",
            "2024-01-02T03:04:05.000",
        ] {
            if let Some(fast) = parse_date_fast(v.as_bytes()) {
                assert_eq!(Some(fast), chrono_parse(v), "{v}");
            }
            assert_eq!(
                parse_date(v).ok().map(|d| d.naive_utc()),
                chrono_parse(v),
                "{v}"
            );
        }
        assert!(parse_date_fast(b"2024-01-02T03:04:05.123Z").is_some());
    }

    #[test]
    fn stale_date_is_refused_unless_the_check_is_disabled() {
        let later = now() + chrono::Duration::minutes(16);
        let pairs = v2_request();
        let err = verify(&headers(&pairs), b"", "ListTable", &config(), later).expect_err("stale");
        assert_eq!(
            err.to_string(),
            format!("Mismatch between system time and x-ots-date: {DATE}.")
        );
        assert_eq!(err.code(), ErrorCode::AuthFailed);
        let mut relaxed = config();
        relaxed.max_date_skew = None;
        assert!(verify(&headers(&pairs), b"", "ListTable", &relaxed, later).is_ok());
    }

    #[test]
    fn wrong_version_key_md5_and_signature_are_refused_with_documented_messages() {
        let err =
            check(&with(v2_request(), "x-ots-apiversion", "2014-08-08")).expect_err("version");
        assert_eq!(err.code(), ErrorCode::ParameterInvalid);
        let err = check(&with(v2_request(), "x-ots-accesskeyid", "nobody")).expect_err("key");
        assert_eq!(err, AuthError::UnknownAccessKey);
        assert_eq!(err.to_string(), "The AccessKeyID does not exist.");
        let err =
            verify(&headers(&v2_request()), b"x", "ListTable", &config(), now()).expect_err("md5");
        assert_eq!(err, AuthError::ContentMd5Mismatch);
        let err = check(&with(v2_request(), "x-ots-signature", "AAAA")).expect_err("sig");
        assert_eq!(err.to_string(), "Signature mismatch.");
        // The signature covers the API name.
        let err =
            verify(&headers(&v2_request()), b"", "GetRow", &config(), now()).expect_err("api");
        assert_eq!(err, AuthError::SignatureMismatch);
        // And every x-ots header received, known or not.
        let err = check(&with(v2_request(), "x-ots-extra", "1")).expect_err("extra header");
        assert_eq!(err, AuthError::SignatureMismatch);
    }

    #[test]
    fn auth_errors_convert_to_edge_errors_with_their_message() {
        let err: OtsError = AuthError::SignatureMismatch.into();
        assert_eq!(err.code, ErrorCode::AuthFailed);
        assert_eq!(err.message, "Signature mismatch.");
    }
}
