//! Shared helpers of the integration tests: start the real `otsd` binary on a free port with
//! a temporary data directory, build (and deliberately break) signed requests, and speak raw
//! HTTP/1.1 over a `TcpStream`, so tests can send what no SDK would.
//!
//! ```ignore
//! mod common;
//! let server = common::TestServer::start();
//! let response = server.signed_request("ListTable", b"");
//! assert_eq!(response.status, 200);
//! ```

#![allow(dead_code)] // Each test file uses a different subset.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use otsd::client::{ClientConfig, RetryPolicy};
use otsd::protocol::{pb, sign};
use prost::Message;

/// The key pair every test server is started with (the otsd defaults).
pub const ACCESS_KEY_ID: &str = "otsd";
/// The secret of `ACCESS_KEY_ID`.
pub const ACCESS_KEY_SECRET: &str = "otsd-secret";
/// The instance name test requests address.
pub const INSTANCE: &str = "test";

const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `otsd serve` child process with its own temporary data directory.
pub struct TestServer {
    child: Option<Child>,
    port: u16,
    data_dir: tempfile::TempDir,
    /// Flags given to `serve` beyond the test defaults (kept for `restart`).
    extra_args: Vec<String>,
}

impl TestServer {
    /// Starts `otsd serve --listen 127.0.0.1:0` on a fresh temporary data directory and
    /// waits until it prints its bound port.
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    /// As `start`, passing `extra_args` to `otsd serve` as well.
    pub fn start_with(extra_args: &[&str]) -> TestServer {
        let data_dir = tempfile::tempdir().expect("create temp data dir");
        let extra_args: Vec<String> = extra_args.iter().map(|a| a.to_string()).collect();
        let (child, port) = spawn(data_dir.path(), 0, &extra_args);
        TestServer {
            child: Some(child),
            port,
            data_dir,
            extra_args,
        }
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`, the endpoint to give a client.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The data directory (kept across `restart`, removed when the server is dropped).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        terminate(&child);
        wait_with_timeout(&mut child, STOP_TIMEOUT)
    }

    /// Kills the process with SIGKILL (no flush) and waits for it: a crash.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("server is running");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Stops the server if it runs (SIGTERM, asserting a clean exit) and starts it again on
    /// the same data directory and, when possible, the same port.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            let status = self.stop();
            assert!(status.success(), "otsd exited with {status}");
        }
        let (child, port) = spawn(self.data_dir.path(), self.port, &self.extra_args);
        self.child = Some(child);
        self.port = port;
    }

    /// Sends `request` on a new connection and reads the whole response.
    pub fn send(&self, request: &RawRequest) -> RawResponse {
        request.send(self.port)
    }

    /// POSTs `body` to `/<api>` signed with V2 and the default keys.
    pub fn signed_request(&self, api: &str, body: &[u8]) -> RawResponse {
        self.send(&RawRequest::signed(api, body))
    }

    /// A Rust client configuration for this server: the test keys and instance, a 20 s
    /// timeout (debug builds under load are slow) and up to 5 attempts with short backoff.
    pub fn client_config(&self) -> ClientConfig {
        let mut config =
            ClientConfig::new(self.endpoint(), INSTANCE, ACCESS_KEY_ID, ACCESS_KEY_SECRET);
        config.timeout = Duration::from_secs(20);
        config.retry = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        };
        config
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the binary and parses `listening on http://127.0.0.1:PORT` from its stdout.
/// `port` 0 picks a free port; a fixed port is retried briefly (the old one may linger).
fn spawn(data_dir: &Path, port: u16, extra_args: &[String]) -> (Child, u16) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("otsd-test.log"))
        .expect("open server log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_otsd"))
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--access-key-id")
        .arg(ACCESS_KEY_ID)
        .arg("--access-key-secret")
        .arg(ACCESS_KEY_SECRET)
        .arg("--log")
        .arg(std::env::var("OTSD_TEST_LOG").unwrap_or_else(|_| "info".to_string()))
        .args(extra_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawn otsd");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    // Keep reading stdout for the child's whole life so it never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent {
                if let Some(port) = parse_port(&line) {
                    let _ = tx.send(port);
                    sent = true;
                }
            }
        }
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(port) => (child, port),
        Err(_) => {
            let _ = child.kill();
            let status = child.wait();
            let log = std::fs::read_to_string(data_dir.join("otsd-test.log")).unwrap_or_default();
            panic!("otsd did not report a port ({status:?}); log:\n{log}");
        }
    }
}

/// Extracts PORT from a line containing `listening on http://HOST:PORT`.
pub fn parse_port(line: &str) -> Option<u16> {
    let rest = line.split("listening on http://").nth(1)?;
    let addr = rest.split_whitespace().next()?;
    addr.rsplit(':').next()?.parse().ok()
}

fn terminate(child: &Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    // SAFETY: kill(2) with a pid we own and a valid signal number has no memory effects.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait for otsd") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("otsd did not exit within {timeout:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How the body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` header.
    ContentLength,
    /// `Transfer-Encoding: chunked` in chunks of this many bytes.
    Chunked(usize),
}

/// An HTTP/1.1 request written byte for byte: method, path, headers in order, body.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// `POST`, `GET`, ...
    pub method: String,
    /// Request target, e.g. `/ListTable`.
    pub path: String,
    /// Headers in sending order (no Host, Content-Length or Connection: those are added).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Body framing.
    pub framing: Framing,
}

impl RawRequest {
    /// A request without any protocol headers.
    pub fn new(method: &str, path: &str, body: &[u8]) -> RawRequest {
        RawRequest {
            method: method.to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            body: body.to_vec(),
            framing: Framing::ContentLength,
        }
    }

    /// `POST /<api>` with the x-ots headers of the current time and a V2 signature under the
    /// default keys.
    pub fn signed(api: &str, body: &[u8]) -> RawRequest {
        let mut request = RawRequest::unsigned(api, body);
        request.sign_v2(api, ACCESS_KEY_SECRET);
        request
    }

    /// `POST /<api>` signed with V4 for `region` (the sign date is today's, UTC).
    pub fn signed_v4(api: &str, body: &[u8], region: &str) -> RawRequest {
        let mut request = RawRequest::unsigned(api, body);
        let sign_date = chrono::Utc::now().format("%Y%m%d").to_string();
        request.set_header(sign::SIGN_DATE_HEADER, &sign_date);
        request.set_header(sign::SIGN_REGION_HEADER, region);
        request.sign_v4(api, ACCESS_KEY_SECRET);
        request
    }

    /// `POST /<api>` with every required x-ots header except a signature.
    pub fn unsigned(api: &str, body: &[u8]) -> RawRequest {
        let mut request = RawRequest::new("POST", &format!("/{api}"), body);
        let date = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        request.set_header("x-ots-date", &date);
        request.set_header("x-ots-apiversion", "2015-12-31");
        request.set_header("x-ots-accesskeyid", ACCESS_KEY_ID);
        request.set_header("x-ots-instancename", INSTANCE);
        request.set_header("x-ots-contentmd5", &sign::content_md5(body));
        request
    }

    /// Replaces (or adds) a header.
    pub fn set_header(&mut self, name: &str, value: &str) -> &mut RawRequest {
        self.remove_header(name);
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Removes a header (case-insensitive).
    pub fn remove_header(&mut self, name: &str) -> &mut RawRequest {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// The value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// (Re)computes `x-ots-signature` over the current x-ots headers, as API `api`.
    pub fn sign_v2(&mut self, api: &str, secret: &str) -> &mut RawRequest {
        self.remove_header(sign::SIGNATURE_HEADER);
        let block = sign::canonical_headers(self.pairs(), sign::SIGNATURE_HEADER);
        let signature = sign::sign_v2(secret, &sign::string_to_sign_v2(api, &block));
        self.set_header(sign::SIGNATURE_HEADER, &signature)
    }

    /// (Re)computes `x-ots-signaturev4`; the sign date and region headers must be set.
    pub fn sign_v4(&mut self, api: &str, secret: &str) -> &mut RawRequest {
        self.remove_header(sign::SIGNATURE_V4_HEADER);
        let key = self.v4_key(secret);
        let block = sign::canonical_headers(self.pairs(), sign::SIGNATURE_V4_HEADER);
        let signature = sign::sign_v4(&key, &sign::string_to_sign_v4(api, &block));
        self.set_header(sign::SIGNATURE_V4_HEADER, &signature)
    }

    /// The V4 signing key of this request's sign date and region under `secret`.
    pub fn v4_key(&self, secret: &str) -> String {
        let date = self
            .header(sign::SIGN_DATE_HEADER)
            .expect("x-ots-signdate set");
        let region = self
            .header(sign::SIGN_REGION_HEADER)
            .expect("x-ots-signregion set");
        sign::v4_signing_key(secret, date, region)
    }

    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The request head (request line and headers, ending with the blank line).
    pub fn head(&self, port: u16) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n",
            self.method, self.path
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        match self.framing {
            Framing::ContentLength => {
                head.push_str(&format!("Content-Length: {}\r\n", self.body.len()))
            }
            Framing::Chunked(_) => head.push_str("Transfer-Encoding: chunked\r\n"),
        }
        head.push_str("Connection: close\r\n\r\n");
        head.into_bytes()
    }

    /// The framed body bytes.
    pub fn framed_body(&self) -> Vec<u8> {
        match self.framing {
            Framing::ContentLength => self.body.clone(),
            Framing::Chunked(size) => {
                let mut out = Vec::with_capacity(self.body.len() + 64);
                for chunk in self.body.chunks(size.max(1)) {
                    out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    out.extend_from_slice(chunk);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
                out
            }
        }
    }

    /// Connects to 127.0.0.1:`port`, writes the request (the body from a second thread, so
    /// an early answer is read even while the body is still being written) and reads the
    /// response to the end (the request says `Connection: close`).
    pub fn send(&self, port: u16) -> RawResponse {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to otsd");
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("read timeout");
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .expect("write timeout");
        let mut writer = stream.try_clone().expect("clone stream");
        let head = self.head(port);
        let body = self.framed_body();
        let write = std::thread::spawn(move || {
            // The server may answer and close before taking the whole body (413).
            let _ = writer
                .write_all(&head)
                .and_then(|()| writer.write_all(&body));
        });
        let response = read_response(stream);
        let _ = write.join();
        response
    }
}

/// A response as read off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers, names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The (de-chunked) body.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Decodes the body as the Error protobuf: `(code, message)`.
    pub fn error(&self) -> (String, String) {
        let error = pb::Error::decode(self.body.as_slice())
            .unwrap_or_else(|e| panic!("status {} body is not an Error: {e}", self.status));
        (error.code, error.message.unwrap_or_default())
    }

    /// Asserts the status and the Error's code and message.
    pub fn assert_error(&self, status: u16, code: &str, message: &str) {
        assert_eq!(self.status, status, "status of {:?}", self.error());
        assert_eq!(self.error(), (code.to_string(), message.to_string()));
    }

    /// Verifies `Authorization` against the response's x-ots headers for `api` and `key`
    /// (the secret for V2, the V4 signing key text for V4).
    pub fn verify_signature(&self, access_key_id: &str, key: &str, api: &str) -> bool {
        let Some(authorization) = self.header("authorization") else {
            return false;
        };
        let block = sign::canonical_headers(
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            "authorization",
        );
        let signature = sign::sign_response(key, &block, api);
        authorization == sign::authorization_header(access_key_id, &signature)
    }
}

fn read_response(stream: TcpStream) -> RawResponse {
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .expect("read status line");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read header line");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("header has a colon");
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let body = if let Some(len) = find("content-length") {
        let len: usize = len.parse().expect("numeric content-length");
        let mut body = vec![0; len];
        reader.read_exact(&mut body).expect("read body");
        body
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(&mut reader)
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body).expect("read body to end");
        body
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).expect("read chunk size");
        let size = usize::from_str_radix(size_line.trim(), 16).expect("hex chunk size");
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).expect("read chunk");
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&chunk[..size]);
    }
}
