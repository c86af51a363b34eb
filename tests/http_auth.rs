//! Authentication at the HTTP edge, over raw HTTP against the real binary: every required
//! header, MD5, signature (V2 and V4), key, date format and skew, and the signed response.

mod common;

use common::{RawRequest, TestServer, ACCESS_KEY_ID, ACCESS_KEY_SECRET};
use otsd::protocol::pb;
use prost::Message;

#[test]
fn missing_required_headers_are_named_in_a_400() {
    let server = TestServer::start();
    for name in [
        "x-ots-date",
        "x-ots-apiversion",
        "x-ots-accesskeyid",
        "x-ots-instancename",
        "x-ots-contentmd5",
        "x-ots-signature",
    ] {
        let mut request = RawRequest::unsigned("ListTable", b"");
        request.remove_header(name);
        request.sign_v2("ListTable", ACCESS_KEY_SECRET);
        if name == "x-ots-signature" {
            request.remove_header(name);
        }
        let response = server.send(&request);
        response.assert_error(
            400,
            "OTSParameterInvalid",
            &format!("Missing header: '{name}'."),
        );
        assert!(
            response.header("authorization").is_none(),
            "auth failures are unsigned"
        );
    }
}

#[test]
fn wrong_content_md5_is_refused_with_403() {
    let server = TestServer::start();
    let mut request = RawRequest::unsigned("ListTable", b"");
    request.set_header(
        "x-ots-contentmd5",
        &otsd::protocol::sign::content_md5(b"other"),
    );
    request.sign_v2("ListTable", ACCESS_KEY_SECRET);
    server.send(&request).assert_error(
        403,
        "OTSAuthFailed",
        "Mismatch between MD5 value of request body and x-ots-contentmd5 in header.",
    );
}

#[test]
fn wrong_signature_is_refused_with_403_and_no_authorization() {
    let server = TestServer::start();
    let mut request = RawRequest::unsigned("ListTable", b"");
    request.sign_v2("ListTable", "not-the-secret");
    let response = server.send(&request);
    response.assert_error(403, "OTSAuthFailed", "Signature mismatch.");
    assert!(response.header("authorization").is_none());
    assert!(response.header("x-ots-requestid").is_some());

    // A signature made for another API does not pass either.
    let mut request = RawRequest::unsigned("ListTable", b"");
    request.sign_v2("DescribeTable", ACCESS_KEY_SECRET);
    server
        .send(&request)
        .assert_error(403, "OTSAuthFailed", "Signature mismatch.");
}

#[test]
fn unknown_access_key_is_refused_with_403() {
    let server = TestServer::start();
    let mut request = RawRequest::unsigned("ListTable", b"");
    request.set_header("x-ots-accesskeyid", "somebody-else");
    request.sign_v2("ListTable", ACCESS_KEY_SECRET);
    server
        .send(&request)
        .assert_error(403, "OTSAuthFailed", "The AccessKeyID does not exist.");
}

#[test]
fn date_an_hour_old_is_refused_with_403() {
    let server = TestServer::start();
    let stale = (chrono::Utc::now() - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string();
    let mut request = RawRequest::unsigned("ListTable", b"");
    request.set_header("x-ots-date", &stale);
    request.sign_v2("ListTable", ACCESS_KEY_SECRET);
    server.send(&request).assert_error(
        403,
        "OTSAuthFailed",
        &format!("Mismatch between system time and x-ots-date: {stale}."),
    );
}

#[test]
fn malformed_date_is_refused_with_400() {
    let server = TestServer::start();
    let mut request = RawRequest::unsigned("ListTable", b"");
    request.set_header("x-ots-date", "Tue, 02 Jan 2024 03:04:05 GMT");
    request.sign_v2("ListTable", ACCESS_KEY_SECRET);
    server.send(&request).assert_error(
        400,
        "OTSParameterInvalid",
        "Invalid date format: Tue, 02 Jan 2024 03:04:05 GMT.",
    );
}

#[test]
fn wrong_api_version_is_refused_with_400() {
    let server = TestServer::start();
    let mut request = RawRequest::unsigned("ListTable", b"");
    request.set_header("x-ots-apiversion", "2014-08-08");
    request.sign_v2("ListTable", ACCESS_KEY_SECRET);
    let response = server.send(&request);
    assert_eq!(response.status, 400);
    assert_eq!(response.error().0, "OTSParameterInvalid");
}

fn assert_protocol_headers(response: &common::RawResponse) {
    let md5 = otsd::protocol::sign::content_md5(&response.body);
    assert_eq!(response.header("x-ots-contentmd5"), Some(md5.as_str()));
    assert_eq!(
        response.header("x-ots-contenttype"),
        Some("protocol buffer")
    );
    assert!(response
        .header("x-ots-requestid")
        .is_some_and(|v| !v.is_empty()));
    let date = response.header("x-ots-date").expect("x-ots-date");
    let parsed = chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S%.fZ")
        .expect("x-ots-date parses")
        .and_utc();
    assert!((chrono::Utc::now() - parsed).num_minutes().abs() < 15);
    assert!(
        response.header("content-encoding").is_none(),
        "never compressed"
    );
}

#[test]
fn v2_signed_list_table_gets_a_response_signed_with_the_secret() {
    let server = TestServer::start();
    let response = server.signed_request("ListTable", b"");
    assert_eq!(response.status, 200, "{:?}", response.error());
    assert_protocol_headers(&response);
    assert!(response.verify_signature(ACCESS_KEY_ID, ACCESS_KEY_SECRET, "ListTable"));
    pb::ListTableResponse::decode(response.body.as_slice()).expect("ListTableResponse");
}

#[test]
fn v4_signed_list_table_gets_a_response_signed_with_the_derived_key() {
    let server = TestServer::start();
    let request = RawRequest::signed_v4("ListTable", b"", "cn-hangzhou");
    let response = server.send(&request);
    assert_eq!(response.status, 200, "{:?}", response.error());
    assert_protocol_headers(&response);
    let v4_key = request.v4_key(ACCESS_KEY_SECRET);
    assert!(response.verify_signature(ACCESS_KEY_ID, &v4_key, "ListTable"));
    assert!(!response.verify_signature(ACCESS_KEY_ID, ACCESS_KEY_SECRET, "ListTable"));

    // A V4 signature under the wrong secret is refused.
    let mut bad = RawRequest::signed_v4("ListTable", b"", "cn-hangzhou");
    bad.sign_v4("ListTable", "not-the-secret");
    server
        .send(&bad)
        .assert_error(403, "OTSAuthFailed", "Signature mismatch.");
}

#[test]
fn errors_after_authentication_are_signed() {
    let server = TestServer::start();
    let request = pb::DescribeTableRequest {
        table_name: "no_such_table".into(),
    };
    let response = server.signed_request("DescribeTable", &request.encode_to_vec());
    assert_eq!(response.status, 404, "{:?}", response.error());
    assert_eq!(response.error().0, "OTSObjectNotExist");
    assert_protocol_headers(&response);
    assert!(response.verify_signature(ACCESS_KEY_ID, ACCESS_KEY_SECRET, "DescribeTable"));
}
