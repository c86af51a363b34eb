//! Fuzzes the whole request path below HTTP: arbitrary bodies for the row and transaction APIs
//! go through `api::handle` against real tables (created once per process in a temp dir).
//! Nothing may panic, and no input may earn a 500: bad input is the client's error.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use otsd::api::{self, Api};
use otsd::engine::{Options, SyncPolicy};
use otsd::error::ErrorCode;
use otsd::protocol::pb;
use otsd::table::catalog::Catalog;
use prost::Message;

const INSTANCE: &str = "fuzz";

/// The APIs a fuzz input may call: everything but creating and deleting tables, which would
/// only grow the data directory.
const APIS: [Api; 11] = [
    Api::PutRow,
    Api::UpdateRow,
    Api::DeleteRow,
    Api::GetRow,
    Api::GetRange,
    Api::BatchGetRow,
    Api::BatchWriteRow,
    Api::StartLocalTransaction,
    Api::CommitTransaction,
    Api::AbortTransaction,
    Api::ComputeSplitPointsBySize,
];

/// A catalog with tables `t` (a STRING, b INTEGER), `auto` (u STRING, s INTEGER
/// AUTO_INCREMENT) and `bin` (k BINARY), all keeping three versions, and `ix` (a STRING,
/// b INTEGER; one version) with index `ix_c` on its defined column c covering n, so writes
/// to `ix` maintain an index and reads may name `ix_c`.
static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("otsd-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = Options {
        sync: SyncPolicy::Never,
        ..Options::default()
    };
    let catalog = Catalog::open_with(&dir, options).expect("open the fuzz catalog");
    let key = |name: &str, t: pb::PrimaryKeyType, auto: bool| pb::PrimaryKeySchema {
        name: name.into(),
        r#type: t as i32,
        option: auto.then_some(pb::PrimaryKeyOption::AutoIncrement as i32),
    };
    use pb::PrimaryKeyType::{Binary, Integer, String};
    let tables = [
        ("t", vec![key("a", String, false), key("b", Integer, false)]),
        (
            "auto",
            vec![key("u", String, false), key("s", Integer, true)],
        ),
        ("bin", vec![key("k", Binary, false)]),
    ];
    for (name, primary_key) in tables {
        let req = pb::CreateTableRequest {
            table_meta: pb::TableMeta {
                table_name: name.into(),
                primary_key,
                ..Default::default()
            },
            table_options: Some(pb::TableOptions {
                time_to_live: Some(-1),
                max_versions: Some(3),
                ..Default::default()
            }),
            ..Default::default()
        };
        api::handle(&catalog, Api::CreateTable, INSTANCE, &req.encode_to_vec())
            .expect("create a fuzz table");
    }
    let defined = |name: &str, t: pb::DefinedColumnType| pb::DefinedColumnSchema {
        name: name.into(),
        r#type: t as i32,
    };
    let indexed = pb::CreateTableRequest {
        table_meta: pb::TableMeta {
            table_name: "ix".into(),
            primary_key: vec![key("a", String, false), key("b", Integer, false)],
            defined_column: vec![
                defined("c", pb::DefinedColumnType::DctString),
                defined("n", pb::DefinedColumnType::DctInteger),
            ],
            ..Default::default()
        },
        index_metas: vec![pb::IndexMeta {
            name: "ix_c".into(),
            primary_key: vec!["c".into()],
            defined_column: vec!["n".into()],
            index_update_mode: pb::IndexUpdateMode::IumAsyncIndex as i32,
            index_type: pb::IndexType::ItGlobalIndex as i32,
            index_sync_phase: None,
        }],
        ..Default::default()
    };
    api::handle(
        &catalog,
        Api::CreateTable,
        INSTANCE,
        &indexed.encode_to_vec(),
    )
    .expect("create the indexed fuzz table");
    catalog
});

fuzz_target!(|data: &[u8]| {
    // The first byte picks the API so the fuzzer explores each request's shape.
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let api = APIS[usize::from(which) % APIS.len()];
    if let Err(e) = api::handle(&CATALOG, api, INSTANCE, body) {
        assert_ne!(
            e.code,
            ErrorCode::InternalServerError,
            "{api:?} answered 500: {}",
            e.message
        );
    }
});
