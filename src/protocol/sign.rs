//! Request and response signatures of the Tablestore protocol (PROTOCOL.md §3–4): the
//! canonical `x-ots-*` header block, V2 (HMAC-SHA1) and V4 (HMAC-SHA256, derived key)
//! request signatures, the response signature and the base64 content MD5. Pure functions,
//! shared by the server (which verifies) and the client (which signs); no I/O here.

use std::borrow::Cow;
use std::cell::RefCell;
use std::thread::LocalKey;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

/// The protocol version every request announces in `x-ots-apiversion`.
pub const API_VERSION: &str = "2015-12-31";
/// `x-ots-date` (request and response).
pub const DATE_HEADER: &str = "x-ots-date";
/// `x-ots-apiversion` of a request.
pub const API_VERSION_HEADER: &str = "x-ots-apiversion";
/// `x-ots-accesskeyid` of a request.
pub const ACCESS_KEY_ID_HEADER: &str = "x-ots-accesskeyid";
/// `x-ots-instancename` of a request.
pub const INSTANCE_HEADER: &str = "x-ots-instancename";
/// `x-ots-contentmd5` (request and response).
pub const CONTENT_MD5_HEADER: &str = "x-ots-contentmd5";
/// `x-ots-requestid` of a response.
pub const REQUEST_ID_HEADER: &str = "x-ots-requestid";
/// Prefix of every header that takes part in a signature.
pub const OTS_HEADER_PREFIX: &str = "x-ots-";
/// The V2 request signature header (also the header named when no signature is sent).
pub const SIGNATURE_HEADER: &str = "x-ots-signature";
/// The V4 request signature header.
pub const SIGNATURE_V4_HEADER: &str = "x-ots-signaturev4";
/// The V4 signing date header (`YYYYMMDD`, UTC).
pub const SIGN_DATE_HEADER: &str = "x-ots-signdate";
/// The V4 signing region header.
pub const SIGN_REGION_HEADER: &str = "x-ots-signregion";

type HmacSha1 = Hmac<Sha1>;
type HmacSha256 = Hmac<Sha256>;

/// Builds the canonical header block: every header whose lower-cased name starts with
/// `x-ots-`, except `exclude` (the signature header being computed or verified), formatted as
/// `name:value` with the name lower-cased and the value trimmed, sorted by byte order and
/// joined with `\n` (no trailing newline).
pub fn canonical_headers<'a, I>(headers: I, exclude: &str) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    // Names arrive lower-cased from hyper, so the common case borrows everything and the
    // block costs two allocations, not three per header.
    let mut lines: Vec<(Cow<'a, str>, &'a str)> = headers
        .into_iter()
        .filter_map(|(name, value)| {
            let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(name.to_ascii_lowercase())
            } else {
                Cow::Borrowed(name)
            };
            (name.starts_with(OTS_HEADER_PREFIX) && !name.eq_ignore_ascii_case(exclude))
                .then(|| (name, value.trim()))
        })
        .collect();
    // Sorted as whole `name:value` lines: `x-ots-a-b:` sorts before `x-ots-a:`.
    lines.sort_unstable_by(|a, b| line_bytes(a).cmp(line_bytes(b)));
    join_lines(lines.iter().map(|(name, value)| (name.as_ref(), *value)))
}

/// Joins `(name, value)` pairs, already lower-case, trimmed and in byte order, into a
/// canonical header block: `name:value` lines separated by `\n`. For callers whose header
/// set is fixed and known sorted, such as the response's four `x-ots-*` headers.
pub fn join_lines<'a>(lines: impl IntoIterator<Item = (&'a str, &'a str)> + Clone) -> String {
    let len = lines
        .clone()
        .into_iter()
        .map(|(n, v)| n.len() + v.len() + 2);
    let mut block = String::with_capacity(len.sum());
    for (i, (name, value)) in lines.into_iter().enumerate() {
        if i > 0 {
            block.push('\n');
        }
        block.push_str(name);
        block.push(':');
        block.push_str(value);
    }
    block
}

/// The bytes of one canonical line, `name:value`, without building it.
fn line_bytes<'s>((name, value): &'s (Cow<'_, str>, &str)) -> impl Iterator<Item = u8> + 's {
    name.bytes()
        .chain(std::iter::once(b':'))
        .chain(value.bytes())
}

/// The V2 string to sign for a POST to `/<api_name>` with the given canonical header block.
/// The canonical query string is always empty in Tablestore.
pub fn string_to_sign_v2(api_name: &str, canonical_headers: &str) -> String {
    let mut s = String::with_capacity(api_name.len() + canonical_headers.len() + 16);
    s.push('/');
    s.push_str(api_name);
    s.push_str("\nPOST\n\n");
    s.push_str(canonical_headers);
    s.push('\n');
    s
}

/// The V2 signature: base64(HMAC-SHA1(secret, string_to_sign)).
pub fn sign_v2(access_key_secret: &str, string_to_sign: &str) -> String {
    hmac_sha1_base64(access_key_secret.as_bytes(), string_to_sign.as_bytes())
}

/// The V4 signing key: HMAC-SHA256 chained over `sign_date`, `region`, `"ots"` and
/// `"aliyun_v4_request"` starting from `"aliyun_v4" + secret`, returned as base64 text.
/// That text (not the raw bytes) is the key of the V4 request and response signatures.
pub fn v4_signing_key(access_key_secret: &str, sign_date: &str, region: &str) -> String {
    let k0 = format!("aliyun_v4{access_key_secret}");
    let k1 = hmac_sha256(k0.as_bytes(), sign_date.as_bytes());
    let k2 = hmac_sha256(&k1, region.as_bytes());
    let k3 = hmac_sha256(&k2, b"ots");
    let k4 = hmac_sha256(&k3, b"aliyun_v4_request");
    BASE64.encode(k4)
}

/// The V4 string to sign: the V2 string (whose header block includes the sign date and
/// region lines) followed by `ots`.
pub fn string_to_sign_v4(api_name: &str, canonical_headers: &str) -> String {
    let mut s = string_to_sign_v2(api_name, canonical_headers);
    s.push_str("ots");
    s
}

/// The V4 signature: base64(HMAC-SHA256(v4 key text, string_to_sign_v4)).
pub fn sign_v4(v4_key: &str, string_to_sign_v4: &str) -> String {
    let mac = hmac_sha256(v4_key.as_bytes(), string_to_sign_v4.as_bytes());
    BASE64.encode(mac)
}

/// The response string to sign: the canonical block of the response's `x-ots-*` headers,
/// a newline, then `/<api_name>`.
pub fn response_string_to_sign(canonical_headers: &str, api_name: &str) -> String {
    format!("{canonical_headers}\n/{api_name}")
}

/// The response signature: base64(HMAC-SHA1(key, response string)), where `key` is the
/// access key secret for V2 clients and the V4 signing key text for V4 clients.
pub fn sign_response(key: &str, canonical_headers: &str, api_name: &str) -> String {
    let s = response_string_to_sign(canonical_headers, api_name);
    hmac_sha1_base64(key.as_bytes(), s.as_bytes())
}

/// The `Authorization` header value of a response: `OTS <access_key_id>:<signature>`.
pub fn authorization_header(access_key_id: &str, signature: &str) -> String {
    format!("OTS {access_key_id}:{signature}")
}

/// base64(MD5(body)), standard alphabet with padding, as sent in `x-ots-contentmd5`.
pub fn content_md5(body: &[u8]) -> String {
    BASE64.encode(Md5::digest(body))
}

/// Compares two signatures (or digests) in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hmac_sha1_base64(key: &[u8], msg: &[u8]) -> String {
    thread_local! {
        static KEYED: KeyedCache<HmacSha1> = const { RefCell::new(None) };
    }
    let mut mac = keyed(&KEYED, key);
    mac.update(msg);
    BASE64.encode(mac.finalize().into_bytes())
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    thread_local! {
        static KEYED: KeyedCache<HmacSha256> = const { RefCell::new(None) };
    }
    let mut mac = keyed(&KEYED, key);
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// A thread's last HMAC key and the HMAC keyed with it.
type KeyedCache<M> = RefCell<Option<(Vec<u8>, M)>>;

/// An HMAC keyed with `key`, cloned from this thread's last one when the key is the same:
/// keying hashes two blocks (the padded key with ipad and opad), a quarter or more of a
/// request signature, and a server sees the same few keys on every request.
fn keyed<M: Mac + KeyInit + Clone>(cache: &'static LocalKey<KeyedCache<M>>, key: &[u8]) -> M {
    cache.with_borrow_mut(|last| match last {
        Some((k, mac)) if k.as_slice() == key => mac.clone(),
        _ => {
            // HMAC accepts keys of any length, so construction cannot fail.
            let mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
            *last = Some((key.to_vec(), mac.clone()));
            mac
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_keyed_hmacs_sign_like_fresh_ones_whatever_the_key_order() {
        for (key, msg) in [
            ("a", "m1"),
            ("a", "m2"),
            ("bb", "m1"),
            ("a", "m1"),
            ("", "x"),
        ] {
            let mut fresh1 = <HmacSha1 as KeyInit>::new_from_slice(key.as_bytes()).expect("key");
            fresh1.update(msg.as_bytes());
            let want1 = BASE64.encode(fresh1.finalize().into_bytes());
            assert_eq!(hmac_sha1_base64(key.as_bytes(), msg.as_bytes()), want1);
            let mut fresh256 =
                <HmacSha256 as KeyInit>::new_from_slice(key.as_bytes()).expect("key");
            fresh256.update(msg.as_bytes());
            let want256 = fresh256.finalize().into_bytes().to_vec();
            assert_eq!(hmac_sha256(key.as_bytes(), msg.as_bytes()), want256);
        }
    }

    const SECRET: &str = "ak_secret";
    const EMPTY_MD5: &str = "1B2M2Y8AsgTpgAmY7PhCfg==";

    fn request_headers() -> Vec<(&'static str, &'static str)> {
        // Deliberately unsorted and mixed-case: the block must not depend on arrival order.
        vec![
            ("X-OTS-Date", "2024-01-02T03:04:05.000Z"),
            ("x-ots-instancename", "inst"),
            ("User-Agent", "test"),
            ("x-ots-accesskeyid", "ak_id"),
            ("x-ots-contentmd5", EMPTY_MD5),
            ("x-ots-apiversion", "2015-12-31"),
            ("x-ots-signature", "ignored"),
        ]
    }

    #[test]
    fn canonical_block_sorts_whole_lines_and_lowercases_names() {
        let block = canonical_headers(
            [
                ("x-ots-a", "2"),
                ("X-OTS-A-B", " 1 "),
                ("Host", "h"),
                ("x-ots-signature", "s"),
            ],
            SIGNATURE_HEADER,
        );
        // '-' (0x2d) sorts before ':' (0x3a), so the longer name comes first.
        assert_eq!(block, "x-ots-a-b:1\nx-ots-a:2");
        assert_eq!(canonical_headers([("Host", "h")], ""), "");
    }

    #[test]
    fn content_md5_of_empty_body_matches_protocol() {
        assert_eq!(content_md5(b""), EMPTY_MD5);
    }

    #[test]
    fn v2_string_to_sign_and_signature_match_protocol_vector() {
        let block = canonical_headers(request_headers(), SIGNATURE_HEADER);
        let sts = string_to_sign_v2("ListTable", &block);
        assert_eq!(
            sts,
            "/ListTable\nPOST\n\nx-ots-accesskeyid:ak_id\nx-ots-apiversion:2015-12-31\n\
             x-ots-contentmd5:1B2M2Y8AsgTpgAmY7PhCfg==\nx-ots-date:2024-01-02T03:04:05.000Z\n\
             x-ots-instancename:inst\n"
        );
        assert_eq!(sign_v2(SECRET, &sts), "QIOhuZuqJZZKiRVB3Oxt4RxkVq8=");
    }

    #[test]
    fn v4_key_and_signature_match_protocol_vector() {
        let key = v4_signing_key(SECRET, "20240102", "cn-hangzhou");
        assert_eq!(key, "LP2qkHs9XYDrbUzznsKBRP2bckci+8EU9oYp1CCZSBU=");
        let mut headers = request_headers();
        headers.push(("x-ots-signdate", "20240102"));
        headers.push(("x-ots-signregion", "cn-hangzhou"));
        headers.push(("x-ots-signaturev4", "ignored"));
        // The V2 signature header is not excluded by V4; drop it as a V4 client never sends it.
        headers.retain(|(n, _)| *n != "x-ots-signature");
        let block = canonical_headers(headers, SIGNATURE_V4_HEADER);
        let sts = string_to_sign_v4("ListTable", &block);
        assert!(sts.ends_with("x-ots-signregion:cn-hangzhou\nots"));
        assert_eq!(
            sign_v4(&key, &sts),
            "e3M1TzaikyNfQmp7m5HTacJtX198eaA8ET/JGSqrMG0="
        );
    }

    #[test]
    fn response_signature_matches_protocol_vectors_for_v2_and_v4_keys() {
        let headers = [
            ("x-ots-requestid", "rid-1"),
            ("x-ots-contentmd5", EMPTY_MD5),
            ("x-ots-date", "2024-01-02T03:04:06.000Z"),
            ("x-ots-contenttype", "protocol buffer"),
        ];
        let block = canonical_headers(headers, "authorization");
        assert_eq!(
            sign_response(SECRET, &block, "ListTable"),
            "xawltnAszvrJoKIHRwd2zh7KgAw="
        );
        let v4 = v4_signing_key(SECRET, "20240102", "cn-hangzhou");
        assert_eq!(
            sign_response(&v4, &block, "ListTable"),
            "diIgiD4SJFKbYvvXUBRNnGUP+cE="
        );
        assert_eq!(authorization_header("ak_id", "sig"), "OTS ak_id:sig");
    }

    #[test]
    fn canonical_block_trims_values_and_skips_other_headers() {
        let block = canonical_headers(
            [
                ("Host", "h"),
                ("x-ots-b", " 2 "),
                ("X-Ots-A", "1"),
                ("x-ots-signature", "s"),
            ],
            SIGNATURE_HEADER,
        );
        assert_eq!(block, "x-ots-a:1\nx-ots-b:2");
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
