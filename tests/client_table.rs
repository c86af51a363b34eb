//! The Rust client against the real `otsd` binary: table DDL, row writes and reads, range
//! paging, batches, and that non-retriable errors come back after exactly one attempt.

mod common;

use std::time::Duration;

use otsd::client::{Client, Condition, RowWrite};
use otsd::error::ErrorCode;
use otsd::protocol::pb;
use otsd::protocol::plainbuffer::{Cell, ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row};

fn client(server: &common::TestServer) -> Client {
    let mut config = server.client_config();
    config.retry.throttled_base_delay = Duration::from_millis(10);
    Client::new(config).expect("client config")
}

fn pk(user: &str, seq: i64) -> Vec<PrimaryKeyColumn> {
    vec![
        PrimaryKeyColumn::new("user", PrimaryKeyValue::String(user.to_string())),
        PrimaryKeyColumn::new("seq", PrimaryKeyValue::Integer(seq)),
    ]
}

fn row(user: &str, seq: i64, text: &str) -> Row {
    Row {
        primary_key: pk(user, seq),
        cells: vec![
            Cell::put("text", ColumnValue::String(text.to_string()), None),
            Cell::put("n", ColumnValue::Integer(seq * 10), None),
        ],
        delete_marker: false,
    }
}

fn cell<'r>(row: &'r Row, name: &str) -> Option<&'r ColumnValue> {
    row.cells
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.value.as_ref())
}

async fn create_messages_table(c: &Client) {
    c.create_simple_table(
        "messages",
        &[
            ("user", pb::PrimaryKeyType::String),
            ("seq", pb::PrimaryKeyType::Integer),
        ],
    )
    .await
    .expect("create table");
}

#[tokio::test]
async fn created_tables_are_listed_described_and_deleted() {
    let server = common::TestServer::start();
    let c = client(&server);
    create_messages_table(&c).await;
    let names = c.list_table().await.expect("list").table_names;
    assert_eq!(names, ["messages"]);
    let described = c
        .describe_table(&pb::DescribeTableRequest {
            table_name: "messages".into(),
        })
        .await
        .expect("describe");
    let schema: Vec<_> = described
        .table_meta
        .primary_key
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(schema, ["user", "seq"]);
    assert!(c.table_exists("messages").await.expect("exists"));

    let again = c
        .create_simple_table("messages", &[("user", pb::PrimaryKeyType::String)])
        .await
        .expect_err("duplicate");
    assert!(again.is_object_already_exist(), "{again}");
    assert_eq!(again.http_status(), Some(409));

    c.delete_table(&pb::DeleteTableRequest {
        table_name: "messages".into(),
    })
    .await
    .expect("delete table");
    assert!(!c.table_exists("messages").await.expect("describe"));
}

#[tokio::test]
async fn rows_put_are_read_back_by_key_and_by_range() {
    let server = common::TestServer::start();
    let c = client(&server);
    create_messages_table(&c).await;
    for seq in 1..=5 {
        c.put(
            "messages",
            &row("alice", seq, &format!("hi {seq}")),
            Condition::ignore(),
            pb::ReturnType::RtNone,
        )
        .await
        .expect("put");
    }
    c.put(
        "messages",
        &row("bob", 1, "yo"),
        Condition::ignore(),
        pb::ReturnType::RtNone,
    )
    .await
    .expect("put bob");

    let got = c
        .get("messages", &pk("alice", 3), &[])
        .await
        .expect("get")
        .expect("row exists");
    assert_eq!(got.primary_key, pk("alice", 3));
    assert_eq!(
        cell(&got, "text"),
        Some(&ColumnValue::String("hi 3".into()))
    );
    assert_eq!(cell(&got, "n"), Some(&ColumnValue::Integer(30)));
    let only_n = c
        .get("messages", &pk("alice", 3), &["n"])
        .await
        .expect("get n")
        .expect("row exists");
    assert_eq!(only_n.cells.len(), 1);
    assert_eq!(
        c.get("messages", &pk("alice", 99), &[]).await.expect("get"),
        None
    );

    // alice's rows only: [alice/INF_MIN, alice/INF_MAX).
    let start = vec![
        PrimaryKeyColumn::new("user", PrimaryKeyValue::String("alice".into())),
        PrimaryKeyColumn::new("seq", PrimaryKeyValue::InfMin),
    ];
    let end = vec![
        PrimaryKeyColumn::new("user", PrimaryKeyValue::String("alice".into())),
        PrimaryKeyColumn::new("seq", PrimaryKeyValue::InfMax),
    ];
    let page = c
        .range("messages", &start, &end, pb::Direction::Forward, Some(2))
        .await
        .expect("first page");
    assert_eq!(page.rows.len(), 2);
    assert_eq!(page.next_start, Some(pk("alice", 3)));
    let all = c
        .range_all("messages", &start, &end, pb::Direction::Forward)
        .await
        .expect("range");
    let seqs: Vec<_> = all.iter().map(|r| r.primary_key[1].value.clone()).collect();
    assert_eq!(
        seqs,
        (1..=5).map(PrimaryKeyValue::Integer).collect::<Vec<_>>()
    );
    let backward = c
        .range_all("messages", &end, &start, pb::Direction::Backward)
        .await
        .expect("backward range");
    assert_eq!(backward.len(), 5);
    assert_eq!(backward[0].primary_key, pk("alice", 5));

    c.delete("messages", &pk("alice", 3), Condition::expect_exist())
        .await
        .expect("delete");
    assert_eq!(
        c.get("messages", &pk("alice", 3), &[]).await.expect("get"),
        None
    );
}

#[tokio::test]
async fn missing_table_is_object_not_exist_404_after_one_attempt() {
    let server = common::TestServer::start();
    let c = client(&server);
    let before = c.stats();
    let err = c
        .get("no_such_table", &pk("a", 1), &[])
        .await
        .expect_err("missing table");
    assert_eq!(err.error_code(), Some(ErrorCode::ObjectNotExist), "{err}");
    assert_eq!(err.http_status(), Some(404));
    assert!(err.request_id().is_some_and(|id| !id.is_empty()));
    let after = c.stats();
    assert_eq!(after.attempts - before.attempts, 1);
    assert_eq!(after.retries, before.retries);
}

#[tokio::test]
async fn failed_conditions_are_not_retried() {
    let server = common::TestServer::start();
    let c = client(&server);
    create_messages_table(&c).await;
    let r = row("carol", 1, "first");
    c.put(
        "messages",
        &r,
        Condition::expect_not_exist(),
        pb::ReturnType::RtNone,
    )
    .await
    .expect("first insert");
    let before = c.stats();
    let err = c
        .put(
            "messages",
            &r,
            Condition::expect_not_exist(),
            pb::ReturnType::RtNone,
        )
        .await
        .expect_err("row exists");
    assert!(err.is_condition_check_fail(), "{err}");
    assert_eq!(err.http_status(), Some(403));
    assert_eq!(c.stats().attempts - before.attempts, 1);
    assert_eq!(c.stats().retries, before.retries);
}

#[tokio::test]
async fn batch_writes_and_reads_report_per_row_results() {
    let server = common::TestServer::start();
    let c = client(&server);
    create_messages_table(&c).await;
    let results = c
        .batch_write(
            "messages",
            &[
                RowWrite::Put(row("dave", 1, "a"), Condition::ignore()),
                RowWrite::Put(row("dave", 2, "b"), Condition::ignore()),
                RowWrite::Delete(pk("dave", 3), Condition::expect_exist()),
            ],
        )
        .await
        .expect("batch write");
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
    let failed = results[2].as_ref().expect_err("row 3 does not exist");
    assert_eq!(failed.code, "OTSConditionCheckFail");

    let got = c
        .batch_get(
            "messages",
            &[pk("dave", 2), pk("dave", 3), pk("dave", 1)],
            &["text"],
        )
        .await
        .expect("batch get");
    let texts: Vec<Option<ColumnValue>> = got
        .into_iter()
        .map(|r| {
            r.expect("row ok")
                .and_then(|row| cell(&row, "text").cloned())
        })
        .collect();
    assert_eq!(
        texts,
        [
            Some(ColumnValue::String("b".into())),
            None,
            Some(ColumnValue::String("a".into()))
        ]
    );
}

#[tokio::test]
async fn one_batch_writes_several_tables_with_results_per_table() {
    let server = common::TestServer::start();
    let c = client(&server);
    create_messages_table(&c).await;
    c.create_simple_table("inbox", &[("user", pb::PrimaryKeyType::String)])
        .await
        .expect("create inbox");
    let inbox_pk = |u: &str| {
        vec![PrimaryKeyColumn::new(
            "user",
            PrimaryKeyValue::String(u.into()),
        )]
    };
    let inbox_row = Row {
        primary_key: inbox_pk("erin"),
        cells: vec![Cell::put("unread", ColumnValue::Integer(2), None)],
        delete_marker: false,
    };
    let messages = [
        RowWrite::Put(row("erin", 1, "x"), Condition::ignore()),
        RowWrite::Put(row("erin", 2, "y"), Condition::ignore()),
    ];
    let inbox = [
        RowWrite::Put(inbox_row, Condition::ignore()),
        RowWrite::Delete(inbox_pk("nobody"), Condition::expect_exist()),
    ];
    let results = c
        .batch_write_tables(&[("messages", &messages), ("inbox", &inbox)])
        .await
        .expect("batch write");
    assert_eq!(results.len(), 2);
    assert!(results[0].iter().all(Result::is_ok), "{results:?}");
    assert!(results[1][0].is_ok(), "{results:?}");
    let failed = results[1][1].as_ref().expect_err("no such inbox row");
    assert_eq!(failed.code, "OTSConditionCheckFail");

    let got = c.get("messages", &pk("erin", 2), &[]).await.expect("get");
    assert_eq!(
        got.as_ref().and_then(|r| cell(r, "text")),
        Some(&ColumnValue::String("y".into()))
    );
    let got = c.get("inbox", &inbox_pk("erin"), &[]).await.expect("get");
    assert_eq!(
        got.as_ref().and_then(|r| cell(r, "unread")),
        Some(&ColumnValue::Integer(2))
    );
}

/// SSTable files under `table`'s engine folder in the server's data dir.
fn sst_files(server: &common::TestServer, table: &str) -> usize {
    let dir = server
        .data_dir()
        .join(common::INSTANCE)
        .join(table)
        .join("engine");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "sst"))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn tables_share_the_write_buffer_budget_and_flush_early() {
    // 1 MiB for all memtables: each table seals from 4 MiB (1/16 of its own 64 MiB), so
    // ~6 MB per table must reach SSTables; without the budget it would all stay in memory.
    let server = common::TestServer::start_with(&["--write-buffer-mib", "1"]);
    let c = client(&server);
    let value = ColumnValue::Binary(vec![7u8; 4000]);
    for table in ["budget_a", "budget_b"] {
        c.create_simple_table(table, &[("id", pb::PrimaryKeyType::Integer)])
            .await
            .expect("create table");
        for chunk in 0..8i64 {
            let writes: Vec<RowWrite> = (0..200)
                .map(|i| {
                    let id = chunk * 200 + i;
                    let pk = vec![PrimaryKeyColumn::new("id", PrimaryKeyValue::Integer(id))];
                    let cells = vec![Cell::put("v", value.clone(), None)];
                    let row = Row {
                        primary_key: pk,
                        cells,
                        delete_marker: false,
                    };
                    RowWrite::Put(row, Condition::ignore())
                })
                .collect();
            let results = c.batch_write(table, &writes).await.expect("batch write");
            assert!(results.iter().all(Result::is_ok), "{results:?}");
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while (sst_files(&server, "budget_a") == 0 || sst_files(&server, "budget_b") == 0)
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for table in ["budget_a", "budget_b"] {
        assert!(sst_files(&server, table) > 0, "{table} never flushed");
        let start = [PrimaryKeyColumn::new("id", PrimaryKeyValue::InfMin)];
        let end = [PrimaryKeyColumn::new("id", PrimaryKeyValue::InfMax)];
        let rows = c
            .range_all(table, &start, &end, pb::Direction::Forward)
            .await
            .expect("range");
        assert_eq!(rows.len(), 1600, "{table}");
        assert!(rows.iter().all(|r| cell(r, "v") == Some(&value)));
    }
}
