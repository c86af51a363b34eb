//! Drives a running otsd (endpoint in `$OTSD_ENDPOINT`) through the community Rust SDK
//! `aliyun-tablestore-rs`: table operations, every row operation with every value type,
//! conditions, filters (regex ones too), paging, batches, auto-increment, secondary indexes and
//! the errors it surfaces. Each check asserts what it got; the program prints one line per check
//! and `OK` only if all held.

use std::future::Future;
use std::pin::Pin;

use aliyun_tablestore_rs::data::{
    BatchGetRowRequest, BatchWriteRowRequest, DeleteRowRequest, GetRangeRequest, GetRowRequest,
    PutRowRequest, RowInBatchWriteRowRequest, TableInBatchGetRowRequest,
    TableInBatchWriteRowRequest, UpdateRowRequest,
};
use aliyun_tablestore_rs::defined_column::{AddDefinedColumnRequest, DeleteDefinedColumnRequest};
use aliyun_tablestore_rs::error::OtsError;
use aliyun_tablestore_rs::index::{CreateIndexRequest, IndexMetaBuilder};
use aliyun_tablestore_rs::model::{
    Column, ColumnValue, CompositeColumnValueFilter, Filter, PrimaryKey, PrimaryKeyValue, Row,
    SingleColumnValueFilter,
};
use aliyun_tablestore_rs::protos::filter::{LogicalOperator, ValueTransferRule, VariantType};
use aliyun_tablestore_rs::protos::{Direction, IndexType, ReturnType, RowExistenceExpectation};
use aliyun_tablestore_rs::table::{
    ComputeSplitPointsBySizeRequest, CreateTableRequest, UpdateTableRequest,
};
use aliyun_tablestore_rs::{OtsClient, OtsResult};

const ACCESS_KEY_ID: &str = "otsd";
const ACCESS_KEY_SECRET: &str = "otsd-secret";
const INSTANCE: &str = "rustsdk";
/// A table keyed by (uid STRING, seq INTEGER) keeping three versions.
const ROWS: &str = "rs_rows";
/// A table keyed by (uid STRING, seq INTEGER AUTO_INCREMENT).
const AUTO: &str = "rs_auto";
/// A single-version table keyed by (uid STRING, seq INTEGER) with defined columns city STRING,
/// age INTEGER and name STRING, created together with the index BY_SEQ.
const INDEXED: &str = "rs_indexed";
/// Global index declared with CreateTable: key [seq, uid], covers name.
const BY_SEQ: &str = "rs_by_seq";
/// Global index added by CreateIndex with include_base_data: key [city, uid, seq], covers age.
const BY_CITY: &str = "rs_by_city";

type Check = fn(&OtsClient) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>>;

/// `Err(message)` unless `cond` holds.
fn ensure(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

/// The SDK's result as a check failure naming the step.
fn step<T>(what: &str, r: OtsResult<T>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e:?}"))
}

/// The Tablestore error code of a failed call, or a failure if the call succeeded.
fn error_code<T: std::fmt::Debug>(what: &str, r: OtsResult<T>) -> Result<String, String> {
    match r {
        Ok(v) => Err(format!("{what}: expected an error, got {v:?}")),
        Err(OtsError::ApiError(e)) => Ok(e.code.clone()),
        Err(other) => Err(format!("{what}: expected an API error, got {other:?}")),
    }
}

fn client(secret: &str) -> OtsClient {
    let endpoint =
        std::env::var("OTSD_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:8800".into());
    OtsClient::builder(ACCESS_KEY_ID, secret)
        .endpoint(endpoint)
        .instance_name(INSTANCE)
        .build()
}

fn key(uid: &str, seq: i64) -> PrimaryKey {
    PrimaryKey::new()
        .column_string("uid", uid)
        .column_integer("seq", seq)
}

fn row(uid: &str, seq: i64) -> Row {
    Row::new()
        .primary_key_column_string("uid", uid)
        .primary_key_column_integer("seq", seq)
}

/// The value of column `name` in `row`, if present.
fn value<'r>(row: &'r Row, name: &str) -> Option<&'r ColumnValue> {
    row.get_column_value(name)
}

async fn get(c: &OtsClient, pk: PrimaryKey) -> Result<Option<Row>, String> {
    let got = c
        .get_row(GetRowRequest::new(ROWS).primary_key(pk).max_versions(1))
        .send()
        .await;
    Ok(step("GetRow", got)?.row)
}

fn tables(c: &OtsClient) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        let create = CreateTableRequest::new(ROWS)
            .primary_key_string("uid")
            .primary_key_integer("seq", false)
            .max_versions(3)
            .ttl_seconds(-1);
        step("CreateTable", c.create_table(create).send().await)?;
        let auto = CreateTableRequest::new(AUTO)
            .primary_key_string("uid")
            .primary_key_auto_increment("seq");
        step(
            "CreateTable auto-increment",
            c.create_table(auto).send().await,
        )?;
        let again = CreateTableRequest::new(ROWS)
            .primary_key_string("uid")
            .primary_key_integer("seq", false);
        let code = error_code("CreateTable twice", c.create_table(again).send().await)?;
        ensure(code == "OTSObjectAlreadyExist", || {
            format!("CreateTable twice: {code}")
        })?;

        let names = step("ListTable", c.list_table().send().await)?;
        ensure(
            names.iter().any(|n| n == ROWS) && names.iter().any(|n| n == AUTO),
            || format!("ListTable: {names:?}"),
        )?;
        let described = step("DescribeTable", c.describe_table(AUTO).send().await)?;
        let pk: Vec<_> = described
            .table_meta
            .primary_key
            .iter()
            .map(|k| k.name.clone())
            .collect();
        ensure(pk == ["uid", "seq"], || {
            format!("DescribeTable keys: {pk:?}")
        })?;
        ensure(
            described.table_meta.primary_key[1].option == Some(1),
            || "DescribeTable: seq is not AUTO_INCREMENT".into(),
        )?;

        let update = UpdateTableRequest::new(ROWS)
            .ttl_seconds(86_400)
            .max_versions(3);
        let updated = step("UpdateTable", c.update_table(update).send().await)?;
        ensure(updated.table_options.time_to_live == Some(86_400), || {
            format!("UpdateTable answered {:?}", updated.table_options)
        })?;
        let options = step("DescribeTable", c.describe_table(ROWS).send().await)?.table_options;
        ensure(
            options.time_to_live == Some(86_400) && options.max_versions == Some(3),
            || format!("DescribeTable after UpdateTable: {options:?}"),
        )?;

        let add = AddDefinedColumnRequest::new(ROWS)
            .column_string("title")
            .column_integer("score");
        step("AddDefinedColumn", c.add_defined_column(add).send().await)?;
        let delete = DeleteDefinedColumnRequest::new(ROWS).column("title");
        step(
            "DeleteDefinedColumn",
            c.delete_defined_column(delete).send().await,
        )?;
        let defined: Vec<_> = step("DescribeTable", c.describe_table(ROWS).send().await)?
            .table_meta
            .defined_column
            .iter()
            .map(|d| d.name.clone())
            .collect();
        ensure(defined == ["score"], || {
            format!("DescribeTable after Add/DeleteDefinedColumn: {defined:?}")
        })?;
        let missing = DeleteDefinedColumnRequest::new(ROWS).column("title");
        let code = error_code(
            "DeleteDefinedColumn missing",
            c.delete_defined_column(missing).send().await,
        )?;
        ensure(code == "OTSParameterInvalid", || {
            format!("DeleteDefinedColumn of a missing column: {code}")
        })?;

        let split = ComputeSplitPointsBySizeRequest::new(ROWS, 1);
        let split = step(
            "ComputeSplitPointsBySize",
            c.compute_split_points_by_size(split).send().await,
        )?;
        ensure(
            split.split_points.is_empty() && split.schema.len() == 2,
            || {
                format!(
                    "ComputeSplitPointsBySize: {} points, {} key columns",
                    split.split_points.len(),
                    split.schema.len()
                )
            },
        )?;

        let code = error_code(
            "DescribeTable missing",
            c.describe_table("rs_missing").send().await,
        )?;
        ensure(code == "OTSObjectNotExist", || {
            format!("DescribeTable missing: {code}")
        })
    })
}

fn every_value_type(c: &OtsClient) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        let put = row("types", 1)
            .column_string("s", "héllo")
            .column_integer("i", -42)
            .column_double("d", 2.5)
            .column_bool("b", true)
            .column_blob("x", vec![0u8, 1, 255]);
        step(
            "PutRow",
            c.put_row(PutRowRequest::new(ROWS).row(put)).send().await,
        )?;
        let got = get(c, key("types", 1))
            .await?
            .ok_or("PutRow row not found")?;
        let want = [
            ("s", ColumnValue::String("héllo".into())),
            ("i", ColumnValue::Integer(-42)),
            ("d", ColumnValue::Double(2.5)),
            ("b", ColumnValue::Boolean(true)),
            ("x", ColumnValue::Blob(vec![0, 1, 255])),
        ];
        for (name, want) in want {
            ensure(value(&got, name) == Some(&want), || {
                format!("column {name}: {:?}, want {want:?}", value(&got, name))
            })?;
        }
        let only = GetRowRequest::new(ROWS)
            .primary_key(key("types", 1))
            .columns_to_get(["i", "b"])
            .max_versions(1);
        let only = step("GetRow columns_to_get", c.get_row(only).send().await)?
            .row
            .ok_or("no row")?;
        let names: Vec<_> = only.columns.iter().map(|c| c.name.as_str()).collect();
        ensure(names == ["b", "i"], || {
            format!("columns_to_get gave {names:?}")
        })
    })
}

fn versions_and_time_range(
    c: &OtsClient,
) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        // Explicit versions must lie within the table's deviation (a day by default) of now.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let base = now.map_err(|e| e.to_string())?.as_millis() as i64 - 60_000;
        for (n, ts) in [(1, base), (2, base + 1000), (3, base + 2000)] {
            let mut col = Column::from_integer("v", n);
            col.timestamp = Some(ts as u64);
            let req = UpdateRowRequest::new(ROWS).row(row("versions", 1).column(col));
            step("UpdateRow with a timestamp", c.update_row(req).send().await)?;
        }
        let all = GetRowRequest::new(ROWS)
            .primary_key(key("versions", 1))
            .max_versions(3);
        let all = step("GetRow max_versions 3", c.get_row(all).send().await)?
            .row
            .ok_or("no row")?;
        let stamps: Vec<_> = all.columns.iter().map(|c| c.timestamp).collect();
        ensure(stamps.len() == 3, || {
            format!("three versions expected, got {stamps:?}")
        })?;
        let window = GetRowRequest::new(ROWS)
            .primary_key(key("versions", 1))
            .time_range(base + 500, base + 1500)
            .max_versions(3);
        let window = step("GetRow time_range", c.get_row(window).send().await)?
            .row
            .ok_or("no row")?;
        let values: Vec<_> = window.columns.iter().map(|c| c.value.clone()).collect();
        ensure(values == [ColumnValue::Integer(2)], || {
            format!("time_range gave {values:?}")
        })?;
        let exact = GetRowRequest::new(ROWS)
            .primary_key(key("versions", 1))
            .specific_time_ms(base);
        let exact = step("GetRow specific time", c.get_row(exact).send().await)?
            .row
            .ok_or("no row")?;
        let values: Vec<_> = exact.columns.iter().map(|c| c.value.clone()).collect();
        ensure(values == [ColumnValue::Integer(1)], || {
            format!("specific time gave {values:?}")
        })
    })
}

fn update_and_delete(c: &OtsClient) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        let put = row("upd", 1)
            .column_integer("n", 10)
            .column_string("gone", "x");
        step(
            "PutRow",
            c.put_row(PutRowRequest::new(ROWS).row(put)).send().await,
        )?;
        let update = UpdateRowRequest::new(ROWS)
            .row(
                row("upd", 1)
                    .column_to_increse("n", 5)
                    .column_to_delete_all_versions("gone")
                    .column_string("new", "y"),
            )
            .row_condition(RowExistenceExpectation::ExpectExist)
            .return_type(ReturnType::RtAfterModify)
            .return_column("n");
        let answered = step("UpdateRow", c.update_row(update).send().await)?;
        let returned = answered.row.as_ref().and_then(|r| value(r, "n").cloned());
        ensure(returned == Some(ColumnValue::Integer(15)), || {
            format!("RT_AFTER_MODIFY returned {returned:?}")
        })?;
        let got = get(c, key("upd", 1))
            .await?
            .ok_or("updated row not found")?;
        ensure(value(&got, "n") == Some(&ColumnValue::Integer(15)), || {
            "n != 15".into()
        })?;
        ensure(value(&got, "gone").is_none(), || {
            "deleted column still there".into()
        })?;
        ensure(
            value(&got, "new") == Some(&ColumnValue::String("y".into())),
            || "new missing".into(),
        )?;

        let delete = DeleteRowRequest::new(ROWS).primary_key(key("upd", 1));
        step("DeleteRow", c.delete_row(delete).send().await)?;
        ensure(get(c, key("upd", 1)).await?.is_none(), || {
            "deleted row still read".into()
        })
    })
}

fn conditions(c: &OtsClient) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        let put = row("cond", 1).column_integer("n", 1);
        step(
            "PutRow",
            c.put_row(PutRowRequest::new(ROWS).row(put)).send().await,
        )?;
        let exists = PutRowRequest::new(ROWS)
            .row(row("cond", 1).column_integer("n", 2))
            .row_condition(RowExistenceExpectation::ExpectNotExist);
        let code = error_code("PutRow EXPECT_NOT_EXIST", c.put_row(exists).send().await)?;
        ensure(code == "OTSConditionCheckFail", || {
            format!("EXPECT_NOT_EXIST: {code}")
        })?;

        let n_is = |n| {
            Filter::Single(
                SingleColumnValueFilter::new().equal_column(Column::from_integer("n", n)),
            )
        };
        let failing = UpdateRowRequest::new(ROWS)
            .row(row("cond", 1).column_integer("n", 3))
            .column_condition(n_is(7));
        let code = error_code("UpdateRow n == 7", c.update_row(failing).send().await)?;
        ensure(code == "OTSConditionCheckFail", || {
            format!("column condition: {code}")
        })?;
        let either =
            CompositeColumnValueFilter::new(LogicalOperator::LoOr).sub_filters([n_is(7), n_is(1)]);
        let passing = UpdateRowRequest::new(ROWS)
            .row(row("cond", 1).column_integer("n", 3))
            .column_condition(Filter::Composite(either));
        step(
            "UpdateRow n == 7 || n == 1",
            c.update_row(passing).send().await,
        )?;
        let got = get(c, key("cond", 1)).await?.ok_or("row missing")?;
        ensure(value(&got, "n") == Some(&ColumnValue::Integer(3)), || {
            "conditional update lost".into()
        })
    })
}

fn ranges(c: &OtsClient) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        for seq in 0..25 {
            let put = row("range", seq).column_integer("n", seq);
            step(
                "PutRow",
                c.put_row(PutRowRequest::new(ROWS).row(put)).send().await,
            )?;
        }
        let bounds = |r: GetRangeRequest| {
            r.start_primary_key_column_string("uid", "range")
                .start_primary_key_column_inf_min("seq")
                .end_primary_key_column_string("uid", "range")
                .end_primary_key_column_inf_max("seq")
                .max_versions(1)
                .limit(10)
        };
        let mut seen = Vec::new();
        let mut request = bounds(GetRangeRequest::new(ROWS));
        loop {
            let page = step("GetRange", c.get_range(request.clone()).send().await)?;
            seen.extend(
                page.rows
                    .iter()
                    .map(|r| r.get_primary_key_value("seq").cloned()),
            );
            let Some(next) = page.next_start_primary_key else {
                break;
            };
            request = request.start_primary_key(PrimaryKey::new().columns(next));
        }
        let want: Vec<_> = (0..25).map(|s| Some(PrimaryKeyValue::Integer(s))).collect();
        ensure(seen == want, || format!("forward pages gave {seen:?}"))?;

        let backward = GetRangeRequest::new(ROWS)
            .direction(Direction::Backward)
            .start_primary_key_column_string("uid", "range")
            .start_primary_key_column_integer("seq", 9)
            .end_primary_key_column_string("uid", "range")
            .end_primary_key_column_integer("seq", 4)
            .max_versions(1);
        let page = step("GetRange backward", c.get_range(backward).send().await)?;
        let seqs: Vec<_> = page
            .rows
            .iter()
            .map(|r| r.get_primary_key_value("seq").cloned())
            .collect();
        let want: Vec<_> = (5..=9)
            .rev()
            .map(|s| Some(PrimaryKeyValue::Integer(s)))
            .collect();
        ensure(seqs == want, || format!("backward gave {seqs:?}"))?;

        let filtered = bounds(GetRangeRequest::new(ROWS)).filter(Filter::Single(
            SingleColumnValueFilter::new().greater_equal(Column::from_integer("n", 20)),
        ));
        let page = step("GetRange filter", c.get_range(filtered).send().await)?;
        ensure(
            page.rows
                .iter()
                .all(|r| matches!(value(r, "n"), Some(ColumnValue::Integer(n)) if *n >= 20)),
            || format!("filter let through {} rows", page.rows.len()),
        )
    })
}

/// A regex filter (ValueTransferRule): the first group of `"load":"(\d+)"` cast to INTEGER is
/// compared as a number; a row whose doc does not match is left out.
fn regex_filter(c: &OtsClient) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        let docs = [
            (1, r#"{"load":"90"}"#),
            (2, r#"{"load":"15"}"#),
            (3, r#"{"load":"400"}"#),
            (4, "no load"),
        ];
        for (seq, doc) in docs {
            let put = row("regex", seq).column_string("doc", doc);
            step(
                "PutRow",
                c.put_row(PutRowRequest::new(ROWS).row(put)).send().await,
            )?;
        }
        let rule = ValueTransferRule {
            regex: r#""load":"(\d+)""#.into(),
            cast_type: Some(VariantType::VtInteger as i32),
        };
        let over_50 = SingleColumnValueFilter::new()
            .greater_than(Column::from_integer("doc", 50))
            .filter_if_missing(true)
            .value_transfer_rule(rule);
        let request = GetRangeRequest::new(ROWS)
            .start_primary_key_column_string("uid", "regex")
            .start_primary_key_column_inf_min("seq")
            .end_primary_key_column_string("uid", "regex")
            .end_primary_key_column_inf_max("seq")
            .max_versions(1)
            .filter(Filter::Single(over_50));
        let page = step("GetRange regex filter", c.get_range(request).send().await)?;
        let seqs: Vec<_> = page
            .rows
            .iter()
            .map(|r| r.get_primary_key_value("seq").cloned())
            .collect();
        // As text "400" < "50"; as a number it passes.
        let want = [1, 3].map(|s| Some(PrimaryKeyValue::Integer(s)));
        ensure(seqs == want, || format!("regex filter gave {seqs:?}"))
    })
}

fn batches(c: &OtsClient) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        let put = row("batch", 1).column_integer("n", 1);
        step(
            "PutRow",
            c.put_row(PutRowRequest::new(ROWS).row(put)).send().await,
        )?;
        let writes = TableInBatchWriteRowRequest::new(ROWS).rows([
            RowInBatchWriteRowRequest::put_row(row("batch", 2).column_integer("n", 2)),
            RowInBatchWriteRowRequest::update_row(row("batch", 1).column_integer("n", 10)),
            RowInBatchWriteRowRequest::put_row(row("batch", 1).column_integer("n", 99))
                .row_condition(RowExistenceExpectation::ExpectNotExist),
            RowInBatchWriteRowRequest::delete_row(row("batch", 3)),
        ]);
        let written = step(
            "BatchWriteRow",
            c.batch_write_row(BatchWriteRowRequest::new().table(writes))
                .send()
                .await,
        )?;
        let oks: Vec<_> = written.tables[0].rows.iter().map(|r| r.is_ok).collect();
        ensure(oks == [true, true, false, true], || {
            format!("per-row results {oks:?}")
        })?;
        let failed = written.tables[0].rows[2]
            .error
            .as_ref()
            .map(|e| e.code.as_str());
        ensure(failed == Some("OTSConditionCheckFail"), || {
            format!("failed row error {failed:?}")
        })?;

        let reads = TableInBatchGetRowRequest::new(ROWS)
            .primary_keys([key("batch", 1), key("batch", 2), key("batch", 404)])
            .max_versions(1);
        let read = step(
            "BatchGetRow",
            c.batch_get_row(BatchGetRowRequest::new().table(reads))
                .send()
                .await,
        )?;
        let rows = &read.tables[0].rows;
        ensure(rows.len() == 3 && rows.iter().all(|r| r.is_ok), || {
            format!("BatchGetRow {rows:?}")
        })?;
        let n = |i: usize| rows[i].row.as_ref().and_then(|r| value(r, "n").cloned());
        ensure(
            n(0) == Some(ColumnValue::Integer(10)) && n(1) == Some(ColumnValue::Integer(2)),
            || format!("BatchGetRow values {:?} {:?}", n(0), n(1)),
        )?;
        ensure(rows[2].row.is_none(), || {
            "missing row read as present".into()
        })
    })
}

fn auto_increment(c: &OtsClient) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        let mut seqs = Vec::new();
        for n in 0..3 {
            let put = PutRowRequest::new(AUTO)
                .row(
                    Row::new()
                        .primary_key_column_string("uid", "auto")
                        .primary_key_column_auto_increment("seq")
                        .column_integer("n", n),
                )
                .return_type(ReturnType::RtPk);
            let answered = step("PutRow AUTO_INCREMENT", c.put_row(put).send().await)?;
            let seq = answered
                .row
                .as_ref()
                .and_then(|r| r.get_primary_key_value("seq").cloned());
            match seq {
                Some(PrimaryKeyValue::Integer(s)) => seqs.push(s),
                other => return Err(format!("RT_PK returned seq {other:?}")),
            }
        }
        ensure(seqs.windows(2).all(|w| w[0] < w[1]), || {
            format!("seq ids not increasing: {seqs:?}")
        })
    })
}

fn errors(c: &OtsClient) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        let missing = GetRowRequest::new("rs_missing")
            .primary_key(key("a", 1))
            .max_versions(1);
        let code = error_code("GetRow missing table", c.get_row(missing).send().await)?;
        ensure(code == "OTSObjectNotExist", || {
            format!("missing table: {code}")
        })?;

        let wrong_type = GetRowRequest::new(ROWS)
            .primary_key(
                PrimaryKey::new()
                    .column_integer("uid", 1)
                    .column_integer("seq", 1),
            )
            .max_versions(1);
        let code = error_code("GetRow wrong key type", c.get_row(wrong_type).send().await)?;
        ensure(code == "OTSInvalidPK", || format!("wrong key type: {code}"))?;

        let intruder = client("not-the-secret");
        match intruder.list_table().send().await {
            Err(OtsError::ApiError(e)) if e.code == "OTSAuthFailed" => Ok(()),
            // The SDK may report a 403 whose body it did not parse as a status error.
            Err(OtsError::StatusError(status, body))
                if status.as_u16() == 403 && body.contains("OTSAuthFailed") =>
            {
                Ok(())
            }
            other => Err(format!("wrong secret: {other:?}")),
        }
    })
}

/// An index row as (primary key values in index order, covered columns as (name, value)).
type IndexEntry = (Vec<PrimaryKeyValue>, Vec<(String, ColumnValue)>);

/// Every row of `index`, forward from INF_MIN to INF_MAX on each of `key_names`, two rows a page
/// so that following `next_start_primary_key` is exercised. Fails unless each row's key columns
/// are exactly `key_names`, in that order.
async fn scan_index(
    c: &OtsClient,
    index: &str,
    key_names: &[&str],
) -> Result<Vec<IndexEntry>, String> {
    let mut request = GetRangeRequest::new(index).max_versions(1).limit(2);
    for name in key_names {
        request = request
            .start_primary_key_column_inf_min(name)
            .end_primary_key_column_inf_max(name);
    }
    let mut out = Vec::new();
    for _ in 0..20 {
        let page = step(
            &format!("GetRange on index {index}"),
            c.get_range(request.clone()).send().await,
        )?;
        for r in &page.rows {
            let names: Vec<_> = r
                .primary_key
                .columns
                .iter()
                .map(|k| k.name.as_str())
                .collect();
            ensure(names == key_names, || {
                format!("{index} row keyed by {names:?}, want {key_names:?}")
            })?;
            let key = r
                .primary_key
                .columns
                .iter()
                .map(|k| k.value.clone())
                .collect();
            let columns = r
                .columns
                .iter()
                .map(|col| (col.name.clone(), col.value.clone()))
                .collect();
            out.push((key, columns));
        }
        let Some(next) = page.next_start_primary_key else {
            return Ok(out);
        };
        request = request.start_primary_key(PrimaryKey::new().columns(next));
    }
    Err(format!("GetRange on index {index}: paging did not end"))
}

/// A BY_CITY row: key (city, uid, seq), covered age if any.
fn city_entry(city: &str, uid: &str, seq: i64, age: Option<i64>) -> IndexEntry {
    let key = vec![
        PrimaryKeyValue::String(city.into()),
        PrimaryKeyValue::String(uid.into()),
        PrimaryKeyValue::Integer(seq),
    ];
    let columns = age.map(|a| ("age".to_string(), ColumnValue::Integer(a)));
    (key, columns.into_iter().collect())
}

/// A BY_SEQ row: key (seq, uid), covered name if any.
fn seq_entry(seq: i64, uid: &str, name: Option<&str>) -> IndexEntry {
    let key = vec![
        PrimaryKeyValue::Integer(seq),
        PrimaryKeyValue::String(uid.into()),
    ];
    let columns = name.map(|n| ("name".to_string(), ColumnValue::String(n.into())));
    (key, columns.into_iter().collect())
}

/// The index metas DescribeTable lists for `table`, as (name, primary key, defined columns,
/// index type), sorted by name.
async fn described_indexes(
    c: &OtsClient,
    table: &str,
) -> Result<Vec<(String, Vec<String>, Vec<String>, i32)>, String> {
    let described = step("DescribeTable", c.describe_table(table).send().await)?;
    let mut metas: Vec<_> = described
        .index_metas
        .into_iter()
        .map(|m| (m.name, m.primary_key, m.defined_column, m.index_type))
        .collect();
    metas.sort();
    Ok(metas)
}

fn index_meta(
    name: &str,
    key: &[&str],
    defined: &[&str],
) -> (String, Vec<String>, Vec<String>, i32) {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    (
        name.into(),
        strings(key),
        strings(defined),
        IndexType::ItGlobalIndex as i32,
    )
}

async fn put_indexed(c: &OtsClient, r: Row) -> Result<(), String> {
    step(
        "PutRow on the indexed table",
        c.put_row(PutRowRequest::new(INDEXED).row(r)).send().await,
    )
    .map(drop)
}

async fn update_indexed(c: &OtsClient, r: Row) -> Result<(), String> {
    step(
        "UpdateRow on the indexed table",
        c.update_row(UpdateRowRequest::new(INDEXED).row(r))
            .send()
            .await,
    )
    .map(drop)
}

/// CreateTable with a global index, CreateIndex back-filling a second one, DescribeTable listing
/// both, and every base write (put, put replacing a row, update, column delete, row delete)
/// reflected in both indexes, read with GetRange (paged) and GetRow by index name.
fn secondary_indexes(c: &OtsClient) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        // The crate checks that an index meta given to CreateTable lists only base primary key
        // names, so the index declared here reorders the base key; BY_CITY, on a defined column,
        // comes from CreateIndex, which the crate does not check that way.
        let create = CreateTableRequest::new(INDEXED)
            .primary_key_string("uid")
            .primary_key_integer("seq", false)
            .column_string("city")
            .column_integer("age")
            .column_string("name")
            .max_versions(1)
            .ttl_seconds(-1)
            .index(
                IndexMetaBuilder::new(BY_SEQ)
                    .primary_key("seq")
                    .defined_column("name")
                    .index_type(IndexType::ItGlobalIndex)
                    .build(),
            );
        step(
            "CreateTable with an index",
            c.create_table(create).send().await,
        )?;
        let metas = described_indexes(c, INDEXED).await?;
        let by_seq_meta = index_meta(BY_SEQ, &["seq"], &["name"]);
        ensure(metas == [by_seq_meta.clone()], || {
            format!("DescribeTable after CreateTable lists {metas:?}")
        })?;

        put_indexed(
            c,
            row("a", 1)
                .column_string("city", "hz")
                .column_integer("age", 30)
                .column_string("name", "ann"),
        )
        .await?;
        put_indexed(
            c,
            row("b", 2)
                .column_string("city", "bj")
                .column_integer("age", 20)
                .column_string("name", "bob"),
        )
        .await?;
        put_indexed(
            c,
            row("c", 1)
                .column_string("city", "hz")
                .column_integer("age", 40)
                .column_string("name", "cat"),
        )
        .await?;

        let by_city = CreateIndexRequest::new(INDEXED, BY_CITY)
            .primary_key_name("city")
            .defined_column_name("age")
            .index_type(IndexType::ItGlobalIndex)
            .include_base_data(true);
        step(
            "CreateIndex include_base_data",
            c.create_index(by_city).send().await,
        )?;
        let metas = described_indexes(c, INDEXED).await?;
        let want = [index_meta(BY_CITY, &["city"], &["age"]), by_seq_meta];
        ensure(metas == want, || {
            format!("DescribeTable after CreateIndex lists {metas:?}, want {want:?}")
        })?;

        let city = scan_index(c, BY_CITY, &["city", "uid", "seq"]).await?;
        let want = [
            city_entry("bj", "b", 2, Some(20)),
            city_entry("hz", "a", 1, Some(30)),
            city_entry("hz", "c", 1, Some(40)),
        ];
        ensure(city == want, || {
            format!("{BY_CITY} back-filled as {city:?}, want {want:?}")
        })?;
        let seq = scan_index(c, BY_SEQ, &["seq", "uid"]).await?;
        let want = [
            seq_entry(1, "a", Some("ann")),
            seq_entry(1, "c", Some("cat")),
            seq_entry(2, "b", Some("bob")),
        ];
        ensure(seq == want, || {
            format!("{BY_SEQ} holds {seq:?}, want {want:?}")
        })?;

        // b moves from bj to hz and changes its covered age; a is replaced without age;
        // c goes away; d arrives then loses name; e has no city, so only BY_SEQ holds it.
        update_indexed(
            c,
            row("b", 2)
                .column_string("city", "hz")
                .column_integer("age", 21),
        )
        .await?;
        put_indexed(
            c,
            row("a", 1)
                .column_string("city", "hz")
                .column_string("name", "ann2"),
        )
        .await?;
        let delete = DeleteRowRequest::new(INDEXED).primary_key(key("c", 1));
        step(
            "DeleteRow on the indexed table",
            c.delete_row(delete).send().await,
        )?;
        put_indexed(
            c,
            row("d", 3)
                .column_string("city", "sh")
                .column_integer("age", 50)
                .column_string("name", "dan"),
        )
        .await?;
        update_indexed(c, row("d", 3).column_to_delete_all_versions("name")).await?;
        put_indexed(c, row("e", 4).column_string("name", "eve")).await?;

        let city = scan_index(c, BY_CITY, &["city", "uid", "seq"]).await?;
        let want = [
            city_entry("hz", "a", 1, None),
            city_entry("hz", "b", 2, Some(21)),
            city_entry("sh", "d", 3, Some(50)),
        ];
        ensure(city == want, || {
            format!("{BY_CITY} after base writes holds {city:?}, want {want:?}")
        })?;
        let seq = scan_index(c, BY_SEQ, &["seq", "uid"]).await?;
        let want = [
            seq_entry(1, "a", Some("ann2")),
            seq_entry(2, "b", Some("bob")),
            seq_entry(3, "d", None),
            seq_entry(4, "e", Some("eve")),
        ];
        ensure(seq == want, || {
            format!("{BY_SEQ} after base writes holds {seq:?}, want {want:?}")
        })?;

        let index_key = |city: &str, uid: &str, seq: i64| {
            PrimaryKey::new()
                .column_string("city", city)
                .column_string("uid", uid)
                .column_integer("seq", seq)
        };
        let moved = GetRowRequest::new(BY_CITY)
            .primary_key(index_key("hz", "b", 2))
            .max_versions(1);
        let moved = step("GetRow on an index", c.get_row(moved).send().await)?
            .row
            .ok_or("GetRow on an index: moved row not found")?;
        ensure(
            value(&moved, "age") == Some(&ColumnValue::Integer(21)),
            || format!("GetRow on an index gave {moved:?}"),
        )?;
        let stale = GetRowRequest::new(BY_CITY)
            .primary_key(index_key("bj", "b", 2))
            .max_versions(1);
        let stale = step("GetRow on an index", c.get_row(stale).send().await)?.row;
        ensure(stale.is_none(), || {
            format!("the index still holds b's old key: {stale:?}")
        })?;

        // ROWS keeps three versions, so it can't have an index.
        let refused = CreateIndexRequest::new(ROWS, "rs_rows_by_score")
            .primary_key_name("score")
            .include_base_data(true);
        let code = error_code(
            "CreateIndex on a multi-version table",
            c.create_index(refused).send().await,
        )?;
        ensure(code == "OTSParameterInvalid", || {
            format!("CreateIndex on a multi-version table: {code}")
        })
    })
}

/// Writes addressed to an index refused, DropIndex, and DeleteTable taking the rest along.
fn dropping_indexes(c: &OtsClient) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        let put = PutRowRequest::new(BY_CITY).row(
            Row::new()
                .primary_key_column_string("city", "hz")
                .primary_key_column_string("uid", "z")
                .primary_key_column_integer("seq", 9)
                .column_integer("age", 1),
        );
        match c.put_row(put).send().await {
            Err(OtsError::ApiError(e))
                if e.code == "OTSParameterInvalid"
                    && e.message
                        .as_deref()
                        .is_some_and(|m| m.to_lowercase().contains("index")) => {}
            other => return Err(format!("PutRow to an index: {other:?}")),
        }

        step("DropIndex", c.drop_index(INDEXED, BY_CITY).send().await)?;
        let metas = described_indexes(c, INDEXED).await?;
        let want = [index_meta(BY_SEQ, &["seq"], &["name"])];
        ensure(metas == want, || {
            format!("DescribeTable after DropIndex lists {metas:?}")
        })?;
        let read = GetRangeRequest::new(BY_CITY)
            .start_primary_key_column_inf_min("city")
            .end_primary_key_column_inf_max("city")
            .max_versions(1);
        let code = error_code(
            "GetRange on a dropped index",
            c.get_range(read).send().await,
        )?;
        ensure(code == "OTSObjectNotExist", || {
            format!("GetRange on a dropped index: {code}")
        })?;
        let code = error_code(
            "DropIndex twice",
            c.drop_index(INDEXED, BY_CITY).send().await,
        )?;
        ensure(code == "OTSObjectNotExist", || {
            format!("DropIndex twice: {code}")
        })?;

        step(
            "DeleteTable with an index",
            c.delete_table(INDEXED).send().await,
        )?;
        let read = GetRangeRequest::new(BY_SEQ)
            .start_primary_key_column_inf_min("seq")
            .end_primary_key_column_inf_max("seq")
            .max_versions(1);
        let code = error_code(
            "GetRange on the index of a deleted table",
            c.get_range(read).send().await,
        )?;
        ensure(code == "OTSObjectNotExist", || {
            format!("GetRange on the index of a deleted table: {code}")
        })
    })
}

fn cleanup(c: &OtsClient) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        for table in [ROWS, AUTO] {
            step("DeleteTable", c.delete_table(table).send().await)?;
        }
        let names = step("ListTable", c.list_table().send().await)?;
        ensure(!names.iter().any(|n| n == ROWS || n == AUTO), || {
            format!("tables left: {names:?}")
        })
    })
}

#[tokio::main]
async fn main() {
    let checks: [(&str, Check); 12] = [
        ("tables", tables),
        ("every value type", every_value_type),
        ("versions and time range", versions_and_time_range),
        ("update and delete", update_and_delete),
        ("conditions", conditions),
        ("ranges", ranges),
        ("regex filter", regex_filter),
        ("batches", batches),
        ("auto-increment", auto_increment),
        ("errors", errors),
        ("secondary indexes", secondary_indexes),
        ("dropping indexes", dropping_indexes),
    ];
    let c = client(ACCESS_KEY_SECRET);
    let mut failed = 0;
    for (name, check) in checks.iter().chain([("cleanup", cleanup as Check)].iter()) {
        match check(&c).await {
            Ok(()) => println!("ok    {name}"),
            Err(why) => {
                failed += 1;
                println!("FAIL  {name}: {why}");
            }
        }
    }
    if failed > 0 {
        println!("{failed} check(s) failed");
        std::process::exit(1);
    }
    println!("OK");
}
