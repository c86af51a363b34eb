//! The HTTP edge beyond authentication, over raw HTTP against the real binary: health,
//! method and route checks, the body cap (declared and chunked), garbage bodies, and a
//! clean exit on SIGTERM.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Framing, RawRequest, TestServer};

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
