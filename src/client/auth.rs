//! Client side of authentication: the V2-signed `x-ots-*` request headers every SDK sends,
//! and the checks on a response (content MD5, `Authorization` signature). The HMAC and
//! canonicalisation arithmetic is `protocol::sign`'s; this file only decides what to sign.

use crate::protocol::sign;

// The header names and version are the protocol's, shared with the server.
pub use crate::protocol::sign::{
    ACCESS_KEY_ID_HEADER, API_VERSION, API_VERSION_HEADER, CONTENT_MD5_HEADER, DATE_HEADER,
    INSTANCE_HEADER, REQUEST_ID_HEADER,
};

/// The access key pair and instance a client signs for.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Sent in `x-ots-accesskeyid` and expected back in the response `Authorization`.
    pub access_key_id: String,
    /// The HMAC key of request and (V2) response signatures; never sent.
    pub access_key_secret: String,
    /// Sent in `x-ots-instancename`.
    pub instance: String,
}

impl std::fmt::Debug for Credentials {
    /// Shows the key id and instance but never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("instance", &self.instance)
            .finish()
    }
}

/// The `x-ots-date` value for now: UTC with milliseconds and `Z`, as the SDKs send it.
pub fn request_date() -> String {
    format_request_date(chrono::Utc::now())
}

/// `request_date` at `now`. The seconds part is formatted once per second per thread
/// (chrono's formatter showed in the bench client's profile); milliseconds are appended.
fn format_request_date(now: chrono::DateTime<chrono::Utc>) -> String {
    thread_local! {
        static SECOND: std::cell::RefCell<(i64, String)> = const {
            std::cell::RefCell::new((i64::MIN, String::new()))
        };
    }
    let millis = now.timestamp_subsec_millis().min(999);
    SECOND.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != now.timestamp() {
            *cache = (now.timestamp(), now.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
        let mut date = String::with_capacity(cache.1.len() + 5);
        date.push_str(&cache.1);
        date.push('.');
        for digit in [millis / 100, millis / 10 % 10, millis % 10] {
            date.push(char::from(b'0' + digit as u8));
        }
        date.push('Z');
        date
    })
}

/// The six headers of a V2-signed request to `/<api>` carrying `body`, dated `date`:
/// date, API version, access key id, instance, content MD5 and the signature (last).
/// Pure: the same inputs always give the same headers, which `wrk_script` relies on.
pub fn signed_headers(
    credentials: &Credentials,
    api: &str,
    body: &[u8],
    date: &str,
) -> Vec<(&'static str, String)> {
    let mut headers: Vec<(&'static str, String)> = vec![
        (DATE_HEADER, date.to_string()),
        (API_VERSION_HEADER, API_VERSION.to_string()),
        (ACCESS_KEY_ID_HEADER, credentials.access_key_id.clone()),
        (INSTANCE_HEADER, credentials.instance.clone()),
        (CONTENT_MD5_HEADER, sign::content_md5(body)),
    ];
    let signature = sign::request_signature_v2(
        &credentials.access_key_secret,
        api,
        headers.iter().map(|(n, v)| (*n, v.as_str())),
    );
    headers.push((sign::SIGNATURE_HEADER, signature.as_str().to_string()));
    headers
}

/// Whether `md5_header` (the response's `x-ots-contentmd5`) is the MD5 of `body`.
pub fn response_md5_matches(md5_header: &str, body: &[u8]) -> bool {
    sign::constant_time_eq(
        sign::content_md5_text(body).as_str().as_bytes(),
        md5_header.trim().as_bytes(),
    )
}

/// Whether `authorization` (`OTS <id>:<signature>`) signs the response's `x-ots-*`
/// headers (`headers`, any case, any order) for `api` under the V2 key (the secret).
pub fn response_signature_matches<'a, I>(
    credentials: &Credentials,
    api: &str,
    headers: I,
    authorization: &str,
) -> bool
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let signature = sign::response_signature(&credentials.access_key_secret, api, headers);
    sign::authorization_matches(
        authorization,
        &credentials.access_key_id,
        signature.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerConfig;
    use hyper::header::{HeaderName, HeaderValue};
    use hyper::HeaderMap;

    fn creds(secret: &str) -> Credentials {
        Credentials {
            access_key_id: "ak_id".to_string(),
            access_key_secret: secret.to_string(),
            instance: "inst".to_string(),
        }
    }

    fn header_map(headers: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("visible ASCII"),
            );
        }
        map
    }

    #[test]
    fn request_date_matches_chrono_formatting() {
        use chrono::TimeZone;
        for (secs, millis) in [
            (0i64, 0u32),
            (1_795_000_000, 7),
            (1_795_000_000, 999),
            (1_795_000_001, 120),
        ] {
            let now = chrono::Utc
                .timestamp_millis_opt(secs * 1000 + i64::from(millis))
                .unwrap();
            assert_eq!(
                format_request_date(now),
                now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
            );
        }
    }

    #[test]
    fn signed_headers_reproduce_the_protocol_v2_vector() {
        let headers = signed_headers(
            &creds("ak_secret"),
            "ListTable",
            b"",
            "2024-01-02T03:04:05.000Z",
        );
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("x-ots-contentmd5"), Some("1B2M2Y8AsgTpgAmY7PhCfg=="));
        assert_eq!(get("x-ots-apiversion"), Some("2015-12-31"));
        assert_eq!(get("x-ots-signature"), Some("QIOhuZuqJZZKiRVB3Oxt4RxkVq8="));
    }

    #[test]
    fn signed_request_passes_the_server_side_verification() {
        let config = ServerConfig::with_key("ak_id", "s3cret");
        let body = b"\x0a\x05hello";
        let headers = signed_headers(&creds("s3cret"), "PutRow", body, &request_date());
        let map = header_map(&headers);
        let verified =
            crate::server::auth::verify(&map, body, "PutRow", &config, chrono::Utc::now())
                .expect("client signature verifies on the server");
        assert_eq!(verified.access_key_id, "ak_id");
        assert_eq!(verified.instance, "inst");
        assert_eq!(verified.response_key, "s3cret");
    }

    #[test]
    fn server_rejects_a_request_signed_with_the_wrong_secret_or_api() {
        let config = ServerConfig::with_key("ak_id", "s3cret");
        let now = chrono::Utc::now();
        let wrong_secret = header_map(&signed_headers(
            &creds("other"),
            "GetRow",
            b"",
            &request_date(),
        ));
        assert!(crate::server::auth::verify(&wrong_secret, b"", "GetRow", &config, now).is_err());
        let right = header_map(&signed_headers(
            &creds("s3cret"),
            "GetRow",
            b"",
            &request_date(),
        ));
        assert!(crate::server::auth::verify(&right, b"", "PutRow", &config, now).is_err());
        assert!(crate::server::auth::verify(&right, b"x", "GetRow", &config, now).is_err());
    }

    #[test]
    fn response_checks_accept_the_protocol_vector_and_reject_tampering() {
        let headers = [
            ("x-ots-requestid", "rid-1"),
            ("x-ots-contentmd5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
            ("x-ots-date", "2024-01-02T03:04:06.000Z"),
            ("x-ots-contenttype", "protocol buffer"),
            ("content-length", "0"),
        ];
        let c = creds("ak_secret");
        let auth = "OTS ak_id:xawltnAszvrJoKIHRwd2zh7KgAw=";
        assert!(response_signature_matches(&c, "ListTable", headers, auth));
        assert!(!response_signature_matches(&c, "GetRow", headers, auth));
        let mut tampered = headers;
        tampered[0].1 = "rid-2";
        assert!(!response_signature_matches(&c, "ListTable", tampered, auth));
        assert!(response_md5_matches("1B2M2Y8AsgTpgAmY7PhCfg==", b""));
        assert!(!response_md5_matches("1B2M2Y8AsgTpgAmY7PhCfg==", b"x"));
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let shown = format!("{:?}", creds("very-secret"));
        assert!(!shown.contains("very-secret"));
        assert!(shown.contains("ak_id"));
    }
}
