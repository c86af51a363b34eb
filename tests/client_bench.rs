//! `otsd bench` against the real server: each operation completes its request budget without
//! errors, prefill makes every GetRow hit, and duration mode stops on time.

mod common;

use clap::Parser;
use otsd::cli::bench::{execute, BenchArgs, BenchOp};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

fn bench_args(server: &common::TestServer, extra: &[&str]) -> BenchArgs {
    let endpoint = server.endpoint();
    let mut argv = vec![
        "bench",
        "--endpoint",
        &endpoint,
        "--instance",
        common::INSTANCE,
        "--concurrency",
        "8",
        "--rows",
        "1000",
        "--threads",
        "2",
    ];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).expect("bench flags").bench
}

#[test]
fn every_operation_completes_its_request_budget_without_errors() {
    let server = common::TestServer::start();

    let put = execute(&bench_args(&server, &["--op", "put", "--requests", "300"])).expect("put");
    assert_eq!(put.op, BenchOp::Put);
    assert_eq!(
        (put.requests, put.errors, put.rows_touched),
        (300, 0, 300),
        "{put:?}"
    );
    assert!(put.latency.p50_us > 0 && put.latency.max_us >= put.latency.p99_us);

    let get = execute(&bench_args(
        &server,
        &["--op", "get", "--requests", "200", "--prefill"],
    ))
    .expect("get");
    // After the prefill every key exists, so every GetRow returns a row.
    assert_eq!(
        (get.requests, get.errors, get.rows_touched),
        (200, 0, 200),
        "{get:?}"
    );

    let range = execute(&bench_args(
        &server,
        &["--op", "range", "--requests", "50", "--batch-size", "10"],
    ))
    .expect("range");
    assert_eq!((range.requests, range.errors), (50, 0), "{range:?}");
    assert!(range.rows_touched > 0 && range.rows_touched <= 500);

    let batch = execute(&bench_args(
        &server,
        &[
            "--op",
            "batch-write",
            "--requests",
            "10",
            "--batch-size",
            "20",
        ],
    ))
    .expect("batch-write");
    assert_eq!(
        (batch.requests, batch.errors, batch.rows_touched),
        (10, 0, 200),
        "{batch:?}"
    );
}

#[test]
fn duration_mode_runs_until_the_deadline() {
    let server = common::TestServer::start();
    let report = execute(&bench_args(&server, &["--duration", "300ms"])).expect("bench");
    assert!(report.requests > 0);
    assert_eq!(report.errors, 0, "{report:?}");
    assert!(report.elapsed_secs >= 0.3, "{}", report.elapsed_secs);
    let json = serde_json::to_value(&report).expect("json");
    assert!(json["latency"]["p999_us"].as_u64().is_some());
}

#[test]
fn an_unreachable_server_is_an_error_not_a_hang() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let args = Cli::try_parse_from([
        "bench",
        "--endpoint",
        &endpoint,
        "--requests",
        "1",
        "--no-retry",
    ])
    .expect("flags")
    .bench;
    let err = execute(&args).expect_err("nothing listens");
    assert!(format!("{err:#}").contains("connect"), "{err:#}");
}
