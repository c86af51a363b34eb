//! The HTTP edge beyond authentication, over raw HTTP against the real binary: health,
//! method and route checks, the body cap (declared and chunked), garbage bodies, corrupt
//! PlainBuffer rows and extreme read parameters, and a clean exit on SIGTERM.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Framing, RawRequest, TestServer};
use otsd::protocol::pb;
use otsd::protocol::plainbuffer::{
    self, Cell, ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row,
};
use prost::Message;

const FIVE_MIB: usize = 5 * 1024 * 1024;

#[test]
fn health_answers_200_ok() {
    let server = TestServer::start();
    let response = server.send(&RawRequest::new("GET", "/health", b""));
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"ok");
}

#[test]
fn get_on_an_api_is_405_with_an_error_protobuf() {
    let server = TestServer::start();
    let response = server.send(&RawRequest::new("GET", "/ListTable", b""));
    assert_eq!(response.status, 405);
    assert_eq!(response.error().0, "OTSMethodNotAllowed");
    assert!(response.header("x-ots-requestid").is_some());
    assert!(response.header("authorization").is_none());
}

#[test]
fn unknown_api_is_400_unsupported_operation() {
    let server = TestServer::start();
    let response = server.signed_request("CreateSearchIndex", b"");
    response.assert_error(
        400,
        "OTSParameterInvalid",
        "Unsupported operation: 'CreateSearchIndex'.",
    );
}

#[test]
fn api_is_routed_on_the_last_path_segment() {
    let server = TestServer::start();
    // Python sends `//ListTable` when the endpoint ends with a slash; the signature still
    // covers `/ListTable`.
    let mut request = RawRequest::signed("ListTable", b"");
    request.path = "//ListTable".to_string();
    let response = server.send(&request);
    assert_eq!(response.status, 200, "{:?}", response.error());
}

#[test]
fn garbage_body_on_a_served_api_is_400_parameter_invalid() {
    let server = TestServer::start();
    let response = server.signed_request("PutRow", &[0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    assert_eq!(response.status, 400);
    assert_eq!(response.error().0, "OTSParameterInvalid");
    assert!(
        response.header("authorization").is_some(),
        "handler errors are signed"
    );
    // The server is still there.
    assert_eq!(
        server.send(&RawRequest::new("GET", "/health", b"")).status,
        200
    );
}

fn assert_too_large(response: &common::RawResponse) {
    response.assert_error(
        413,
        "OTSRequestBodyTooLarge",
        "The size of POST data is too large.",
    );
}

#[test]
fn declared_body_over_5_mib_is_413_before_it_is_sent() {
    let server = TestServer::start();
    // Only the head goes out: the answer must not wait for the body.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = format!(
        "POST /PutRow HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        FIVE_MIB + 1
    );
    stream.write_all(head.as_bytes()).expect("write head");
    let mut reply = [0u8; 12];
    stream.read_exact(&mut reply).expect("read status");
    assert_eq!(&reply, b"HTTP/1.1 413");
    drop(stream);

    // A client that sends the whole body before reading (as the SDKs do) gets the 413 too.
    let request = RawRequest::signed("PutRow", &vec![7u8; FIVE_MIB + 1]);
    assert_too_large(&server.send(&request));
    assert_eq!(
        server.send(&RawRequest::new("GET", "/health", b"")).status,
        200
    );
}

#[test]
fn chunked_body_over_5_mib_is_413_and_the_server_stays_up() {
    let server = TestServer::start();
    let mut request = RawRequest::signed("PutRow", &vec![7u8; FIVE_MIB + 64 * 1024]);
    request.framing = Framing::Chunked(64 * 1024);
    assert_too_large(&server.send(&request));
    // Exactly at the cap is not too large (it is merely not a valid PutRow).
    let mut request = RawRequest::signed("PutRow", &vec![7u8; FIVE_MIB]);
    request.framing = Framing::Chunked(64 * 1024);
    let response = server.send(&request);
    assert_eq!(response.status, 400, "{:?}", response.error());
    assert_eq!(
        server.send(&RawRequest::new("GET", "/health", b"")).status,
        200
    );
}

#[test]
fn malformed_http_does_not_take_the_server_down() {
    let server = TestServer::start();
    for junk in [
        &b"\x00\x01\x02garbage\r\n\r\n"[..],
        b"POST /PutRow HTTP/1.1\r\nContent-Length: x\r\n\r\n",
    ] {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let _ = stream.write_all(junk);
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    }
    assert_eq!(
        server.send(&RawRequest::new("GET", "/health", b"")).status,
        200
    );
}

#[test]
fn sigterm_exits_zero_and_restart_serves_again() {
    let mut server = TestServer::start();
    assert_eq!(server.signed_request("ListTable", b"").status, 200);
    let status = server.stop();
    assert!(status.success(), "exit status {status}");
    server.restart();
    assert_eq!(
        server.send(&RawRequest::new("GET", "/health", b"")).status,
        200
    );
    assert!(server.stop().success());
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_before_exiting() {
    let mut server = TestServer::start();
    let request = RawRequest::signed("PutRow", &[0xffu8; 4096]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let body = request.framed_body();
    let (first, rest) = body.split_at(1024);
    stream
        .write_all(&request.head(server.port()))
        .expect("write head");
    stream.write_all(first).expect("write first part");
    // Give the server time to start reading the request, then ask it to stop.
    std::thread::sleep(Duration::from_millis(200));
    let stopper = std::thread::spawn(move || server.stop());
    std::thread::sleep(Duration::from_millis(300));
    stream
        .write_all(rest)
        .expect("finish the body after SIGTERM");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("read response");
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    let status = stopper.join().expect("stopper thread");
    assert!(status.success(), "exit status {status}");
}

#[test]
fn sigterm_right_after_start_up_exits_cleanly() {
    // The banner is the readiness signal: a SIGTERM sent the moment it appears must find
    // the handler installed (it once raced the first accept and killed the process).
    for _ in 0..5 {
        let mut server = TestServer::start();
        let status = server.stop();
        assert!(status.success(), "{status:?}");
    }
}

#[test]
fn sigterm_closes_idle_keep_alive_connections() {
    let mut server = TestServer::start();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut reply = [0u8; 12];
    stream.read_exact(&mut reply).expect("read status");
    assert_eq!(&reply, b"HTTP/1.1 200");
    // The connection stays open and idle; shutdown must not wait for it.
    let started = std::time::Instant::now();
    assert!(server.stop().success());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

/// Creates table `t` keyed by one STRING column `pk` over raw HTTP.
fn create_string_table(server: &TestServer) {
    let request = pb::CreateTableRequest {
        table_meta: pb::TableMeta {
            table_name: "t".into(),
            primary_key: vec![pb::PrimaryKeySchema {
                name: "pk".into(),
                r#type: pb::PrimaryKeyType::String as i32,
                option: None,
            }],
            ..Default::default()
        },
        ..Default::default()
    };
    let response = server.signed_request("CreateTable", &request.encode_to_vec());
    assert_eq!(response.status, 200, "{:?}", response.error());
}

/// Every truncation and every single-byte flip of a PlainBuffer row is answered with a
/// 200 (a flip the format cannot see, such as in the ignored value prefix) or a 400,
/// never a 500 or a dropped connection.
#[test]
fn truncated_and_flipped_plainbuffer_rows_answer_400_and_the_server_stays_up() {
    let server = TestServer::start();
    create_string_table(&server);
    let row = plainbuffer::encode_row(&Row {
        primary_key: vec![PrimaryKeyColumn::new(
            "pk",
            PrimaryKeyValue::String("key".into()),
        )],
        cells: vec![
            Cell::put("a", ColumnValue::Integer(7), None),
            Cell::put("b", ColumnValue::String("text".into()), None),
        ],
        delete_marker: false,
    });
    let mut variants: Vec<Vec<u8>> = (0..row.len()).map(|n| row[..n].to_vec()).collect();
    for i in 0..row.len() {
        let mut flipped = row.clone();
        flipped[i] ^= 0x5a;
        variants.push(flipped);
    }
    for bytes in variants {
        let put = pb::PutRowRequest {
            table_name: "t".into(),
            row: bytes.clone(),
            ..Default::default()
        };
        let response = server.signed_request("PutRow", &put.encode_to_vec());
        if response.status != 200 {
            assert_eq!(response.status, 400, "{bytes:02x?}: {:?}", response.error());
            let code = response.error().0;
            assert!(
                code == "OTSParameterInvalid" || code == "OTSInvalidPK",
                "{bytes:02x?}: {code}"
            );
        }
    }
    assert_eq!(
        server.send(&RawRequest::new("GET", "/health", b"")).status,
        200
    );
}

/// Numbers at the edges of their types in read requests: each is a 400 with the
/// documented message or a normal answer, never a crash (debug builds trap overflow).
#[test]
fn extreme_read_parameters_answer_400_or_200() {
    let server = TestServer::start();
    create_string_table(&server);
    let bound = |v| plainbuffer::encode_primary_key(&[PrimaryKeyColumn::new("pk", v)]);
    let range = |limit, max_versions, filter| pb::GetRangeRequest {
        table_name: "t".into(),
        direction: pb::Direction::Forward as i32,
        limit,
        max_versions,
        filter,
        inclusive_start_primary_key: bound(PrimaryKeyValue::InfMin),
        exclusive_end_primary_key: bound(PrimaryKeyValue::InfMax),
        ..Default::default()
    };
    for limit in [0, -1, i32::MIN] {
        server
            .signed_request(
                "GetRange",
                &range(Some(limit), Some(1), None).encode_to_vec(),
            )
            .assert_error(
                400,
                "OTSParameterInvalid",
                "The limit must be greater than 0.",
            );
    }
    let response = server.signed_request(
        "GetRange",
        &range(Some(i32::MAX), Some(i32::MAX), None).encode_to_vec(),
    );
    assert_eq!(response.status, 200, "{:?}", response.error());
    for max_versions in [0, -5, i32::MIN] {
        let response = server.signed_request(
            "GetRange",
            &range(None, Some(max_versions), None).encode_to_vec(),
        );
        assert_eq!(response.status, 400);
        assert_eq!(response.error().0, "OTSParameterInvalid");
    }
    for (offset, limit) in [(-1, 1), (0, 0), (0, -1), (i32::MIN, i32::MIN)] {
        let filter = pb::Filter {
            r#type: pb::FilterType::FtColumnPagination as i32,
            filter: pb::ColumnPaginationFilter { offset, limit }.encode_to_vec(),
        };
        let response = server.signed_request(
            "GetRange",
            &range(None, Some(1), Some(filter.encode_to_vec())).encode_to_vec(),
        );
        assert_eq!(response.status, 400, "{offset} {limit}");
        assert_eq!(response.error().0, "OTSParameterInvalid");
    }
    for (start_time, end_time) in [(10, 5), (5, 5), (-1, 5), (i64::MIN, i64::MAX)] {
        let get = pb::GetRowRequest {
            table_name: "t".into(),
            primary_key: bound(PrimaryKeyValue::String("k".into())),
            time_range: Some(pb::TimeRange {
                start_time: Some(start_time),
                end_time: Some(end_time),
                specific_time: None,
            }),
            ..Default::default()
        };
        let response = server.signed_request("GetRow", &get.encode_to_vec());
        assert_eq!(response.status, 400, "{start_time}..{end_time}");
        assert_eq!(response.error().0, "OTSParameterInvalid");
    }
}
