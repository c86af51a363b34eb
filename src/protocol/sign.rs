//! Request and response signatures of the Tablestore protocol (PROTOCOL.md §3–4): the
//! canonical `x-ots-*` header block, V2 (HMAC-SHA1) and V4 (HMAC-SHA256, derived key)
//! request signatures, the response signature and the base64 content MD5. Pure functions,
//! shared by the server (which verifies) and the client (which signs); no I/O here.

use std::cell::RefCell;
use std::ops::Range;
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

/// Base64 text of a digest, held inline: the server checks a request's MD5 and signature
/// and signs its response with these, where a heap string each showed in the allocation
/// count of every request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DigestText<const N: usize>([u8; N]);

/// base64 of an MD5 digest (16 bytes).
pub type Md5Text = DigestText<24>;
/// base64 of an HMAC-SHA1 (20 bytes).
pub type Sha1Text = DigestText<28>;
/// base64 of an HMAC-SHA256 (32 bytes).
pub type Sha256Text = DigestText<44>;

impl<const N: usize> DigestText<N> {
    fn of(digest: &[u8]) -> Self {
        let mut text = [0u8; N];
        // N is the padded base64 length of the digest the alias names, so it always fits.
        let written = BASE64.encode_slice(digest, &mut text).unwrap_or(0);
        debug_assert_eq!(written, N, "digest of the wrong size for its text");
        DigestText(text)
    }

    /// The text (base64 is ASCII).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl<const N: usize> std::fmt::Display for DigestText<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> std::fmt::Debug for DigestText<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

thread_local! {
    /// The canonical lines being sorted and their spans, reused from request to request.
    static LINES: RefCell<(String, Vec<Range<usize>>)> =
        const { RefCell::new((String::new(), Vec::new())) };
    /// The string to sign being built, reused from request to request.
    static TO_SIGN: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Builds the canonical header block: every header whose lower-cased name starts with
/// `x-ots-`, except `exclude` (the signature header being computed or verified), formatted as
/// `name:value` with the name lower-cased and the value trimmed, sorted by byte order and
/// joined with `\n` (no trailing newline).
pub fn canonical_headers<'a, I>(headers: I, exclude: &str) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut block = String::new();
    write_canonical_headers(&mut block, headers, exclude);
    block
}

/// Appends the canonical header block of `headers` (see [`canonical_headers`]) to `out`.
/// The lines are built and sorted in this thread's reused buffers, so a request signs
/// without allocating.
fn write_canonical_headers<'a, I>(out: &mut String, headers: I, exclude: &str)
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    LINES.with_borrow_mut(|(text, spans)| {
        text.clear();
        spans.clear();
        for (name, value) in headers {
            let signs = name
                .as_bytes()
                .get(..OTS_HEADER_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(OTS_HEADER_PREFIX.as_bytes()));
            if !signs || name.eq_ignore_ascii_case(exclude) {
                continue;
            }
            let start = text.len();
            text.extend(name.chars().map(|c| c.to_ascii_lowercase()));
            text.push(':');
            text.push_str(value.trim());
            spans.push(start..text.len());
        }
        // Sorted as whole `name:value` lines: `x-ots-a-b:` sorts before `x-ots-a:`.
        let bytes = text.as_bytes();
        spans.sort_unstable_by(|a, b| bytes[a.clone()].cmp(&bytes[b.clone()]));
        for (i, span) in spans.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&text[span.clone()]);
        }
    });
}

/// The V2 string to sign for a POST to `/<api_name>` with the given canonical header block.
/// The canonical query string is always empty in Tablestore.
pub fn string_to_sign_v2(api_name: &str, canonical_headers: &str) -> String {
    let mut s = String::with_capacity(api_name.len() + canonical_headers.len() + 16);
    write_v2_prefix(&mut s, api_name);
    s.push_str(canonical_headers);
    s.push('\n');
    s
}

fn write_v2_prefix(out: &mut String, api_name: &str) {
    out.push('/');
    out.push_str(api_name);
    out.push_str("\nPOST\n\n");
}

/// The V2 signature: base64(HMAC-SHA1(secret, string_to_sign)).
pub fn sign_v2(access_key_secret: &str, string_to_sign: &str) -> String {
    hmac_sha1_text(access_key_secret.as_bytes(), string_to_sign.as_bytes())
        .as_str()
        .to_string()
}

/// The V2 signature of a request to `/<api_name>` carrying `headers` (any case, any order;
/// `x-ots-signature` itself is left out), built without allocating.
pub fn request_signature_v2<'a, I>(access_key_secret: &str, api_name: &str, headers: I) -> Sha1Text
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    with_request_string(api_name, headers, SIGNATURE_HEADER, "\n", |s| {
        hmac_sha1_text(access_key_secret.as_bytes(), s)
    })
}

/// Calls `sign` with the request string to sign, built in this thread's reused buffer: the
/// V2 prefix for `/<api_name>`, the canonical block of `headers` without `exclude`, then
/// `suffix` (`"\n"` for V2, `"\nots"` for V4).
fn with_request_string<'a, I, R>(
    api_name: &str,
    headers: I,
    exclude: &str,
    suffix: &str,
    sign: impl FnOnce(&[u8]) -> R,
) -> R
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    TO_SIGN.with_borrow_mut(|s| {
        s.clear();
        write_v2_prefix(s, api_name);
        write_canonical_headers(s, headers, exclude);
        s.push_str(suffix);
        sign(s.as_bytes())
    })
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
    Sha256Text::of(&hmac_sha256(
        v4_key.as_bytes(),
        string_to_sign_v4.as_bytes(),
    ))
    .as_str()
    .to_string()
}

/// The V4 signature of a request to `/<api_name>` carrying `headers` (any case, any order;
/// `x-ots-signaturev4` itself is left out) under the V4 key text, built without allocating.
pub fn request_signature_v4<'a, I>(v4_key: &str, api_name: &str, headers: I) -> Sha256Text
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    with_request_string(api_name, headers, SIGNATURE_V4_HEADER, "\nots", |s| {
        Sha256Text::of(&hmac_sha256(v4_key.as_bytes(), s))
    })
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
    hmac_sha1_text(key.as_bytes(), s.as_bytes())
        .as_str()
        .to_string()
}

/// The signature of a response to `/<api_name>` carrying `headers` (any case, any order;
/// `authorization` itself is left out) under `key`, built without allocating.
pub fn response_signature<'a, I>(key: &str, api_name: &str, headers: I) -> Sha1Text
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    TO_SIGN.with_borrow_mut(|s| {
        s.clear();
        write_canonical_headers(s, headers, "authorization");
        s.push_str("\n/");
        s.push_str(api_name);
        hmac_sha1_text(key.as_bytes(), s.as_bytes())
    })
}

/// The `Authorization` header value of a response: `OTS <access_key_id>:<signature>`.
pub fn authorization_header(access_key_id: &str, signature: &str) -> String {
    let mut value = String::with_capacity(access_key_id.len() + signature.len() + 5);
    value.push_str("OTS ");
    value.push_str(access_key_id);
    value.push(':');
    value.push_str(signature);
    value
}

/// Whether `authorization` is `OTS <access_key_id>:<signature>` (outer whitespace aside),
/// comparing the signature in constant time.
pub fn authorization_matches(authorization: &str, access_key_id: &str, signature: &str) -> bool {
    authorization
        .trim()
        .strip_prefix("OTS ")
        .and_then(|rest| rest.strip_prefix(access_key_id))
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|given| constant_time_eq(given.as_bytes(), signature.as_bytes()))
}

/// base64(MD5(body)), standard alphabet with padding, as sent in `x-ots-contentmd5`.
pub fn content_md5(body: &[u8]) -> String {
    content_md5_text(body).as_str().to_string()
}

/// [`content_md5`] without a heap string.
pub fn content_md5_text(body: &[u8]) -> Md5Text {
    Md5Text::of(&Md5::digest(body))
}

/// Compares two signatures (or digests) in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hmac_sha1_text(key: &[u8], msg: &[u8]) -> Sha1Text {
    thread_local! {
        static KEYED: KeyedCache<HmacSha1> = const { RefCell::new(None) };
    }
    let mut mac = keyed(&KEYED, key);
    mac.update(msg);
    Sha1Text::of(&mac.finalize().into_bytes())
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    thread_local! {
        static KEYED: KeyedCache<HmacSha256> = const { RefCell::new(None) };
    }
    let mut mac = keyed(&KEYED, key);
    mac.update(msg);
    mac.finalize().into_bytes().into()
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
            assert_eq!(
                hmac_sha1_text(key.as_bytes(), msg.as_bytes()).as_str(),
                want1
            );
            let mut fresh256 =
                <HmacSha256 as KeyInit>::new_from_slice(key.as_bytes()).expect("key");
            fresh256.update(msg.as_bytes());
            let want256 = fresh256.finalize().into_bytes().to_vec();
            assert_eq!(
                hmac_sha256(key.as_bytes(), msg.as_bytes()).to_vec(),
                want256
            );
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
    fn inline_signatures_equal_the_string_built_ones() {
        let headers = request_headers();
        assert_eq!(
            request_signature_v2(SECRET, "ListTable", headers.clone()).as_str(),
            "QIOhuZuqJZZKiRVB3Oxt4RxkVq8="
        );
        let key = v4_signing_key(SECRET, "20240102", "cn-hangzhou");
        let mut v4 = headers;
        v4.push(("x-ots-signdate", "20240102"));
        v4.push(("x-ots-signregion", "cn-hangzhou"));
        v4.push(("x-ots-signaturev4", "ignored"));
        v4.retain(|(n, _)| *n != "x-ots-signature");
        assert_eq!(
            request_signature_v4(&key, "ListTable", v4).as_str(),
            "e3M1TzaikyNfQmp7m5HTacJtX198eaA8ET/JGSqrMG0="
        );
        let response = [
            ("x-ots-requestid", "rid-1"),
            ("Authorization", "OTS ak_id:old"),
            ("x-ots-contentmd5", EMPTY_MD5),
            ("x-ots-date", "2024-01-02T03:04:06.000Z"),
            ("x-ots-contenttype", "protocol buffer"),
        ];
        let signature = response_signature(SECRET, "ListTable", response);
        assert_eq!(signature.as_str(), "xawltnAszvrJoKIHRwd2zh7KgAw=");
        assert_eq!(format!("{signature}"), "xawltnAszvrJoKIHRwd2zh7KgAw=");
        assert_eq!(content_md5_text(b"").as_str(), EMPTY_MD5);
    }

    #[test]
    fn authorization_matches_only_the_exact_id_and_signature() {
        let value = authorization_header("ak_id", "sig=");
        assert!(authorization_matches(&value, "ak_id", "sig="));
        assert!(authorization_matches(" OTS ak_id:sig= ", "ak_id", "sig="));
        assert!(!authorization_matches(&value, "ak_i", "d:sig="));
        assert!(!authorization_matches(&value, "ak_id", "sig"));
        assert!(!authorization_matches("OTS ak_id sig=", "ak_id", "sig="));
        assert!(!authorization_matches("ak_id:sig=", "ak_id", "sig="));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
