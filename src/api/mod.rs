//! One module per Tablestore operation: decode the protobuf request, validate it, call
//! `table`, encode the response. `Api` is parsed from the URL's last path segment.

mod batch_get_row;
pub mod batch_write_row;
mod compute_split_points;
pub mod convert;
mod create_table;
mod defined_column;
mod delete_table;
mod describe_table;
mod get_range;
mod get_row;
mod index;
mod list_table;
pub mod single_row;
mod transaction;
mod update_table;

use crate::error::OtsResult;
use crate::protocol::peek;
use crate::table::Catalog;

/// Rows a read may ask for and still run on the connection worker (`Api::runs_inline`): a
/// 20-message sync page stays there; a 5000-row page, ~5 ms of work, does not.
const INLINE_MAX_ROWS: usize = 100;
/// `GetRangeRequest.limit` and `GetRangeRequest.filter`.
const GET_RANGE_LIMIT_FIELD: u32 = 6;
const GET_RANGE_FILTER_FIELD: u32 = 10;
/// `BatchGetRowRequest.tables` and `TableInBatchGetRowRequest.primary_key`.
const BATCH_GET_TABLES_FIELD: u32 = 1;
const BATCH_GET_KEY_FIELD: u32 = 2;

/// Every operation name otsd recognises (served or answered as unsupported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    CreateTable,
    ListTable,
    DescribeTable,
    UpdateTable,
    DeleteTable,
    ComputeSplitPointsBySize,
    AddDefinedColumn,
    DeleteDefinedColumn,
    CreateIndex,
    DropIndex,
    PutRow,
    GetRow,
    UpdateRow,
    DeleteRow,
    GetRange,
    BatchGetRow,
    BatchWriteRow,
    StartLocalTransaction,
    CommitTransaction,
    AbortTransaction,
}

impl Api {
    /// Parses the API name from the URL path segment; `None` for names otsd does not serve.
    pub fn parse(name: &str) -> Option<Api> {
        Some(match name {
            "CreateTable" => Api::CreateTable,
            "ListTable" => Api::ListTable,
            "DescribeTable" => Api::DescribeTable,
            "UpdateTable" => Api::UpdateTable,
            "DeleteTable" => Api::DeleteTable,
            "ComputeSplitPointsBySize" => Api::ComputeSplitPointsBySize,
            "AddDefinedColumn" => Api::AddDefinedColumn,
            "DeleteDefinedColumn" => Api::DeleteDefinedColumn,
            "CreateIndex" => Api::CreateIndex,
            "DropIndex" => Api::DropIndex,
            "PutRow" => Api::PutRow,
            "GetRow" => Api::GetRow,
            "UpdateRow" => Api::UpdateRow,
            "DeleteRow" => Api::DeleteRow,
            "GetRange" => Api::GetRange,
            "BatchGetRow" => Api::BatchGetRow,
            "BatchWriteRow" => Api::BatchWriteRow,
            "StartLocalTransaction" => Api::StartLocalTransaction,
            "CommitTransaction" => Api::CommitTransaction,
            "AbortTransaction" => Api::AbortTransaction,
            _ => return None,
        })
    }

    /// True for requests the server answers on its async connection worker: reads that
    /// never wait on an fsync and are small. A read that may walk many rows (a GetRange
    /// without a small limit or with a filter, a BatchGetRow of many rows) runs on the
    /// blocking pool instead, so that it does not hold up the other connections of its
    /// worker for milliseconds.
    pub fn runs_inline(self, body: &[u8]) -> bool {
        match self {
            Api::ListTable | Api::DescribeTable | Api::GetRow => true,
            Api::GetRange => {
                let small = peek::varint_field(body, GET_RANGE_LIMIT_FIELD)
                    .is_some_and(|limit| limit <= INLINE_MAX_ROWS as u64);
                // A filter may skip up to 5000 rows to fill even a small page.
                small && peek::has_field(body, GET_RANGE_FILTER_FIELD) == Some(false)
            }
            Api::BatchGetRow => {
                peek::nested_count(body, BATCH_GET_TABLES_FIELD, BATCH_GET_KEY_FIELD)
                    .is_some_and(|rows| rows <= INLINE_MAX_ROWS)
            }
            _ => false,
        }
    }

    /// True for PutRow, UpdateRow and DeleteRow: the server awaits their commit without
    /// holding a thread (`single_row::SingleRowWrite::run_async`).
    pub fn is_single_row_write(self) -> bool {
        matches!(self, Api::PutRow | Api::UpdateRow | Api::DeleteRow)
    }

    /// The name as it appears in the URL and in the string to sign.
    pub fn name(self) -> &'static str {
        match self {
            Api::CreateTable => "CreateTable",
            Api::ListTable => "ListTable",
            Api::DescribeTable => "DescribeTable",
            Api::UpdateTable => "UpdateTable",
            Api::DeleteTable => "DeleteTable",
            Api::ComputeSplitPointsBySize => "ComputeSplitPointsBySize",
            Api::AddDefinedColumn => "AddDefinedColumn",
            Api::DeleteDefinedColumn => "DeleteDefinedColumn",
            Api::CreateIndex => "CreateIndex",
            Api::DropIndex => "DropIndex",
            Api::PutRow => "PutRow",
            Api::GetRow => "GetRow",
            Api::UpdateRow => "UpdateRow",
            Api::DeleteRow => "DeleteRow",
            Api::GetRange => "GetRange",
            Api::BatchGetRow => "BatchGetRow",
            Api::BatchWriteRow => "BatchWriteRow",
            Api::StartLocalTransaction => "StartLocalTransaction",
            Api::CommitTransaction => "CommitTransaction",
            Api::AbortTransaction => "AbortTransaction",
        }
    }
}

/// Runs one decoded-from-URL operation against `instance`'s tables and returns the encoded
/// response body. Blocking (the engine may fsync): call it from a blocking thread.
pub fn handle(catalog: &Catalog, api: Api, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    crate::table::catalog::validate_instance_name(instance)?;
    match api {
        Api::CreateTable => create_table::create_table(catalog, instance, body),
        Api::ListTable => list_table::list_table(catalog, instance, body),
        Api::DescribeTable => describe_table::describe_table(catalog, instance, body),
        Api::UpdateTable => update_table::update_table(catalog, instance, body),
        Api::DeleteTable => delete_table::delete_table(catalog, instance, body),
        Api::ComputeSplitPointsBySize => {
            compute_split_points::compute_split_points(catalog, instance, body)
        }
        Api::AddDefinedColumn => defined_column::add_defined_column(catalog, instance, body),
        Api::DeleteDefinedColumn => defined_column::delete_defined_column(catalog, instance, body),
        Api::CreateIndex => index::create_index(catalog, instance, body),
        Api::DropIndex => index::drop_index(catalog, instance, body),
        Api::PutRow | Api::UpdateRow | Api::DeleteRow => {
            single_row::SingleRowWrite::decode(api, body)?.run(catalog, instance)
        }
        Api::GetRow => get_row::get_row(catalog, instance, body),
        Api::GetRange => get_range::get_range(catalog, instance, body),
        Api::BatchGetRow => batch_get_row::batch_get_row(catalog, instance, body),
        Api::BatchWriteRow => batch_write_row::batch_write_row(catalog, instance, body),
        Api::StartLocalTransaction => transaction::start_local_transaction(catalog, instance, body),
        Api::CommitTransaction => transaction::commit_transaction(catalog, instance, body),
        Api::AbortTransaction => transaction::abort_transaction(catalog, instance, body),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use prost::Message;

    use super::*;
    use crate::protocol::pb;
    use crate::protocol::plainbuffer::{
        self, Cell, ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row,
    };

    #[test]
    fn small_reads_run_inline_and_reads_of_many_rows_do_not() {
        let range = |limit: Option<i32>| {
            pb::GetRangeRequest {
                table_name: "t".into(),
                limit,
                ..Default::default()
            }
            .encode_to_vec()
        };
        assert!(Api::GetRange.runs_inline(&range(Some(20))));
        assert!(Api::GetRange.runs_inline(&range(Some(100))));
        assert!(!Api::GetRange.runs_inline(&range(Some(101))));
        assert!(!Api::GetRange.runs_inline(&range(None)), "up to 5000 rows");
        let filtered = pb::GetRangeRequest {
            table_name: "t".into(),
            limit: Some(20),
            filter: Some(vec![1, 2, 3]),
            ..Default::default()
        };
        assert!(
            !Api::GetRange.runs_inline(&filtered.encode_to_vec()),
            "may skip many rows"
        );
        let batch = |rows: usize| {
            pb::BatchGetRowRequest {
                tables: vec![pb::TableInBatchGetRowRequest {
                    table_name: "t".into(),
                    primary_key: vec![vec![1; 20]; rows],
                    ..Default::default()
                }],
            }
            .encode_to_vec()
        };
        assert!(Api::BatchGetRow.runs_inline(&batch(100)));
        assert!(!Api::BatchGetRow.runs_inline(&batch(101)));
        assert!(Api::GetRow.runs_inline(b""));
        assert!(!Api::PutRow.runs_inline(b""), "writes are never run inline");
        assert!(!Api::CreateTable.runs_inline(b""));
    }

    /// A catalog in a temp dir with table `inst`/`t` (one STRING key `pk`), created through
    /// the CreateTable handler.
    pub(crate) fn open_with_table() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        let req = pb::CreateTableRequest {
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
        handle(&catalog, Api::CreateTable, "inst", &req.encode_to_vec()).unwrap();
        (dir, catalog)
    }

    #[test]
    fn enabling_a_stream_or_encryption_is_refused_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        let stream = |enable_stream| pb::StreamSpecification {
            enable_stream,
            ..Default::default()
        };
        let table = |name: &str| pb::TableMeta {
            table_name: name.into(),
            primary_key: vec![pb::PrimaryKeySchema {
                name: "pk".into(),
                r#type: pb::PrimaryKeyType::String as i32,
                option: None,
            }],
            ..Default::default()
        };
        let create = |req: pb::CreateTableRequest| {
            handle(&catalog, Api::CreateTable, "inst", &req.encode_to_vec())
        };
        let refused = [
            pb::CreateTableRequest {
                table_meta: table("s"),
                stream_spec: Some(stream(true)),
                ..Default::default()
            },
            pb::CreateTableRequest {
                table_meta: table("e"),
                sse_spec: Some(pb::SseSpecification {
                    enable: true,
                    ..Default::default()
                }),
                ..Default::default()
            },
        ];
        for req in refused {
            let e = create(req).unwrap_err();
            assert_eq!(e.code, crate::error::ErrorCode::ParameterInvalid);
            assert!(e.message.contains("not supported"), "{}", e.message);
        }
        let disabled = pb::CreateTableRequest {
            table_meta: table("t"),
            stream_spec: Some(stream(false)),
            ..Default::default()
        };
        create(disabled).unwrap();

        let update = |enable| pb::UpdateTableRequest {
            table_name: "t".into(),
            stream_spec: Some(stream(enable)),
            ..Default::default()
        };
        let run = |req: pb::UpdateTableRequest| {
            handle(&catalog, Api::UpdateTable, "inst", &req.encode_to_vec())
        };
        let e = run(update(true)).unwrap_err();
        assert_eq!(e.message, "Streams are not supported by otsd.");
        run(update(false)).unwrap();
        let listed = handle(&catalog, Api::ListTable, "inst", &[]).unwrap();
        let listed = pb::ListTableResponse::decode(&listed[..]).unwrap();
        assert_eq!(listed.table_names, ["t"], "refused tables were not created");
    }

    #[test]
    fn put_then_get_round_trips_through_protobuf_and_plainbuffer() {
        let (_dir, catalog) = open_with_table();
        let pk = vec![PrimaryKeyColumn::new(
            "pk",
            PrimaryKeyValue::String("a".into()),
        )];
        let row = Row {
            primary_key: pk.clone(),
            cells: vec![Cell::put("c", ColumnValue::Integer(7), None)],
            delete_marker: false,
        };
        let put = pb::PutRowRequest {
            table_name: "t".into(),
            row: plainbuffer::encode_row(&row),
            ..Default::default()
        };
        let resp = pb::PutRowResponse::decode(
            &handle(&catalog, Api::PutRow, "inst", &put.encode_to_vec()).unwrap()[..],
        )
        .unwrap();
        assert_eq!(resp.consumed.capacity_unit.write, Some(1));

        let get = pb::GetRowRequest {
            table_name: "t".into(),
            primary_key: plainbuffer::encode_primary_key(&pk),
            max_versions: Some(1),
            ..Default::default()
        };
        let resp = pb::GetRowResponse::decode(
            &handle(&catalog, Api::GetRow, "inst", &get.encode_to_vec()).unwrap()[..],
        )
        .unwrap();
        let got = plainbuffer::decode_row(&resp.row).unwrap();
        assert_eq!(got.primary_key, pk);
        assert_eq!(got.cells[0].value, Some(ColumnValue::Integer(7)));
        assert!(got.cells[0].timestamp.is_some());

        // Another instance does not see the table.
        let e = handle(&catalog, Api::GetRow, "other", &get.encode_to_vec()).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::ObjectNotExist);
    }

    #[test]
    fn compute_split_points_answers_one_split_with_the_schema() {
        let (_dir, catalog) = open_with_table();
        let req = pb::ComputeSplitPointsBySizeRequest {
            table_name: "t".into(),
            split_size: 1,
            ..Default::default()
        };
        let body = handle(
            &catalog,
            Api::ComputeSplitPointsBySize,
            "inst",
            &req.encode_to_vec(),
        )
        .unwrap();
        let resp = pb::ComputeSplitPointsBySizeResponse::decode(&body[..]).unwrap();
        assert!(resp.split_points.is_empty());
        assert_eq!(resp.schema.len(), 1);
        assert_eq!(resp.locations.len(), 1);
        assert_eq!(resp.locations[0].repeat, 1);
    }

    #[test]
    fn garbage_bodies_and_bad_instances_are_parameter_errors() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        let e = handle(&catalog, Api::PutRow, "inst", &[0xff, 0xff, 0xff]).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::ParameterInvalid);
        for bad in ["../etc", "", "a/b", &"i".repeat(65)] {
            let e = handle(&catalog, Api::ListTable, bad, &[]).unwrap_err();
            assert_eq!(e.code, crate::error::ErrorCode::AuthFailed);
            assert_eq!(e.message, "The instance is not found.");
        }
        let e = handle(&catalog, Api::CommitTransaction, "inst", &[]).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::ParameterInvalid);
    }

    /// Hostile numbers and shapes sent straight to `handle`: each must answer (Ok or an
    /// OtsError), never panic — debug builds trap integer overflow too.
    #[test]
    fn hostile_numbers_and_shapes_never_panic() {
        use crate::protocol::plainbuffer::CellOp;
        let (_dir, catalog) = open_with_table();
        let pk = vec![PrimaryKeyColumn::new(
            "pk",
            PrimaryKeyValue::String("a".into()),
        )];
        let key = plainbuffer::encode_primary_key(&pk);
        let run = |api: Api, body: Vec<u8>| -> String {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                handle(&catalog, api, "inst", &body)
            })) {
                Ok(Ok(_)) => "ok".to_string(),
                Ok(Err(e)) => format!("{} {}", e.code.as_str(), e.message),
                Err(_) => "PANIC".to_string(),
            }
        };
        let mut report = Vec::new();
        let row = |cells: Vec<Cell>| {
            plainbuffer::encode_row(&Row {
                primary_key: pk.clone(),
                cells,
                delete_marker: false,
            })
        };
        // Values near the integer edges, then increments past them.
        for (start, delta) in [(i64::MAX, 1), (i64::MIN, -1), (i64::MIN, i64::MIN)] {
            let put = pb::PutRowRequest {
                table_name: "t".into(),
                row: row(vec![Cell::put("n", ColumnValue::Integer(start), None)]),
                ..Default::default()
            };
            report.push(("put edge", run(Api::PutRow, put.encode_to_vec())));
            let inc = pb::UpdateRowRequest {
                table_name: "t".into(),
                row_change: row(vec![Cell {
                    name: "n".into(),
                    value: Some(ColumnValue::Integer(delta)),
                    op: Some(CellOp::Increment),
                    timestamp: None,
                }]),
                return_content: Some(pb::ReturnContent {
                    return_type: Some(pb::ReturnType::RtAfterModify as i32),
                    return_column_names: vec!["n".into(), "zz".into(), String::new()],
                }),
                ..Default::default()
            };
            report.push(("increment", run(Api::UpdateRow, inc.encode_to_vec())));
        }
        for ts in [i64::MAX, i64::MIN, i64::MAX - 1, -1, 0] {
            let put = pb::PutRowRequest {
                table_name: "t".into(),
                row: row(vec![Cell::put("c", ColumnValue::Integer(1), Some(ts))]),
                ..Default::default()
            };
            report.push(("put ts", run(Api::PutRow, put.encode_to_vec())));
            let del = pb::UpdateRowRequest {
                table_name: "t".into(),
                row_change: row(vec![Cell {
                    name: "c".into(),
                    value: None,
                    op: Some(CellOp::DeleteOneVersion),
                    timestamp: Some(ts),
                }]),
                ..Default::default()
            };
            report.push(("delete version", run(Api::UpdateRow, del.encode_to_vec())));
        }
        let ranges = [
            (Some(0), Some(i64::MAX), None),
            (Some(i64::MAX), Some(i64::MIN), None),
            (Some(i64::MIN), Some(i64::MAX), None),
            (None, None, Some(i64::MAX)),
            (None, None, Some(i64::MIN)),
            (Some(1), None, None),
            (Some(1), Some(2), Some(3)),
        ];
        for (start_time, end_time, specific_time) in ranges {
            for max_versions in [None, Some(i32::MAX), Some(i32::MIN), Some(0)] {
                let get = pb::GetRowRequest {
                    table_name: "t".into(),
                    primary_key: key.clone(),
                    time_range: Some(pb::TimeRange {
                        start_time,
                        end_time,
                        specific_time,
                    }),
                    max_versions,
                    ..Default::default()
                };
                report.push(("get time", run(Api::GetRow, get.encode_to_vec())));
            }
        }
        let inf = |v| plainbuffer::encode_primary_key(&[PrimaryKeyColumn::new("pk", v)]);
        for limit in [
            None,
            Some(i32::MAX),
            Some(i32::MIN),
            Some(0),
            Some(-1),
            Some(1),
        ] {
            for direction in [0, 1, 2, -1] {
                let (s, e) = if direction == 1 {
                    (PrimaryKeyValue::InfMax, PrimaryKeyValue::InfMin)
                } else {
                    (PrimaryKeyValue::InfMin, PrimaryKeyValue::InfMax)
                };
                let get = pb::GetRangeRequest {
                    table_name: "t".into(),
                    direction,
                    limit,
                    max_versions: Some(i32::MAX),
                    inclusive_start_primary_key: inf(s),
                    exclusive_end_primary_key: inf(e),
                    start_column: Some("z".into()),
                    end_column: Some("a".into()),
                    ..Default::default()
                };
                report.push(("range", run(Api::GetRange, get.encode_to_vec())));
            }
        }
        let pagination = |offset: i32, limit: i32| {
            pb::Filter {
                r#type: pb::FilterType::FtColumnPagination as i32,
                filter: pb::ColumnPaginationFilter { offset, limit }.encode_to_vec(),
            }
            .encode_to_vec()
        };
        for (offset, limit) in [(i32::MAX, i32::MAX), (i32::MIN, 1), (0, i32::MIN), (1, 0)] {
            let get = pb::GetRowRequest {
                table_name: "t".into(),
                primary_key: key.clone(),
                max_versions: Some(1),
                filter: Some(pagination(offset, limit)),
                ..Default::default()
            };
            report.push(("pagination", run(Api::GetRow, get.encode_to_vec())));
        }
        // Filters nested past any sane depth, and a comparison without an operand.
        let mut nested = pagination(0, 1);
        for _ in 0..40 {
            nested = pb::Filter {
                r#type: pb::FilterType::FtCompositeColumnValue as i32,
                filter: pb::CompositeColumnValueFilter {
                    combinator: pb::LogicalOperator::LoNot as i32,
                    sub_filters: vec![pb::Filter::decode(&nested[..]).unwrap()],
                }
                .encode_to_vec(),
            }
            .encode_to_vec();
        }
        let no_operand = pb::Filter {
            r#type: pb::FilterType::FtSingleColumnValue as i32,
            filter: pb::SingleColumnValueFilter {
                comparator: pb::ComparatorType::CtEqual as i32,
                column_name: "n".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        }
        .encode_to_vec();
        for filter in [nested, no_operand, vec![0xff; 3]] {
            let get = pb::GetRowRequest {
                table_name: "t".into(),
                primary_key: key.clone(),
                max_versions: Some(1),
                filter: Some(filter),
                ..Default::default()
            };
            report.push(("filter", run(Api::GetRow, get.encode_to_vec())));
        }
        for split_size in [i64::MIN, 0, i64::MAX] {
            let req = pb::ComputeSplitPointsBySizeRequest {
                table_name: "t".into(),
                split_size,
                ..Default::default()
            };
            report.push((
                "split",
                run(Api::ComputeSplitPointsBySize, req.encode_to_vec()),
            ));
        }
        for (ttl, versions, deviation, cu) in [
            (i32::MIN, i32::MIN, i64::MIN, i32::MIN),
            (i32::MAX, i32::MAX, i64::MAX, i32::MAX),
        ] {
            let req = pb::UpdateTableRequest {
                table_name: "t".into(),
                table_options: Some(pb::TableOptions {
                    time_to_live: Some(ttl),
                    max_versions: Some(versions),
                    deviation_cell_version_in_sec: Some(deviation),
                    ..Default::default()
                }),
                reserved_throughput: Some(pb::ReservedThroughput {
                    capacity_unit: pb::CapacityUnit {
                        read: Some(cu),
                        write: Some(cu),
                    },
                }),
                ..Default::default()
            };
            report.push(("update table", run(Api::UpdateTable, req.encode_to_vec())));
        }
        for key in [
            inf(PrimaryKeyValue::InfMin),
            inf(PrimaryKeyValue::AutoIncrement),
            vec![],
            key.clone(),
        ] {
            let req = pb::StartLocalTransactionRequest {
                table_name: "t".into(),
                key,
            };
            report.push(("txn", run(Api::StartLocalTransaction, req.encode_to_vec())));
        }
        let panics: Vec<_> = report.iter().filter(|(_, r)| r == "PANIC").collect();
        assert!(panics.is_empty(), "panicked: {panics:?}");
        // Every rejection is a 400, never a 500 or another status.
        for (what, r) in &report {
            assert!(
                r == "ok" || r.starts_with("OTSParameterInvalid"),
                "{what}: {r}"
            );
        }
    }
}
