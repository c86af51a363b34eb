//! Shared helpers of the in-process API tests (`api_*_model`, `api_range_paging`): a catalog
//! on a temporary directory, table creation, and the GetRange rows of an answer, so each test
//! holds only its own model.

#![allow(dead_code)] // Each test file uses a different subset.

use std::path::Path;

use otsd::api::{self, Api};
use otsd::engine::{Options, SyncPolicy};
use otsd::protocol::pb;
use otsd::protocol::plainbuffer::{decode_rows, Row};
use otsd::table::catalog::Catalog;
use prost::Message;

/// Opens (or reopens, after `close`) the catalog in `dir`. No fsync: these tests restart
/// gracefully, and crash safety has tests of its own.
pub fn open_catalog(dir: &Path) -> Catalog {
    let options = Options {
        sync: SyncPolicy::Never,
        ..Options::default()
    };
    Catalog::open_with(dir, options).expect("open catalog")
}

/// Restarts the server's storage: closes `catalog` (flushing it, as a graceful stop does)
/// and opens `dir` again.
pub fn restart(catalog: Catalog, dir: &Path) -> Catalog {
    catalog.close().expect("close catalog");
    drop(catalog);
    open_catalog(dir)
}

/// Creates `table` in `instance` with primary-key columns (name, type, option) — types as
/// on the wire (1 INTEGER, 2 STRING, 3 BINARY), option 1 for AUTO_INCREMENT — no TTL and
/// `max_versions`.
pub fn create_table(
    catalog: &Catalog,
    instance: &str,
    table: &str,
    primary_key: &[(&str, i32, Option<i32>)],
    max_versions: i32,
) {
    let body = pb::CreateTableRequest {
        table_meta: pb::TableMeta {
            table_name: table.into(),
            primary_key: primary_key
                .iter()
                .map(|&(name, r#type, option)| pb::PrimaryKeySchema {
                    name: name.into(),
                    r#type,
                    option,
                })
                .collect(),
            ..Default::default()
        },
        table_options: Some(pb::TableOptions {
            time_to_live: Some(-1),
            max_versions: Some(max_versions),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec();
    api::handle(catalog, Api::CreateTable, instance, &body).expect("create table");
}

/// `open_catalog` on `dir`, then `create_table` of `table` in `instance`: the set-up every
/// model test starts from, each with its own primary key and `max_versions`.
pub fn open_with_table(
    dir: &Path,
    instance: &str,
    table: &str,
    primary_key: &[(&str, i32, Option<i32>)],
    max_versions: i32,
) -> Catalog {
    let catalog = open_catalog(dir);
    create_table(&catalog, instance, table, primary_key, max_versions);
    catalog
}

/// The rows of a GetRange answer (none when its `rows` are empty).
pub fn range_rows(resp: &pb::GetRangeResponse) -> Vec<Row> {
    if resp.rows.is_empty() {
        Vec::new()
    } else {
        decode_rows(&resp.rows).expect("decode rows")
    }
}

/// Whether the wire comparator `comparator` (1 EQUAL, 2 NOT_EQUAL, 3 GREATER_THAN,
/// 4 GREATER_EQUAL, 5 LESS_THAN, 6 LESS_EQUAL) holds for a stored value that compares to the
/// given one as `ord` — the models' reading of SEMANTICS.md §6.
pub fn accepts(comparator: i32, ord: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match comparator {
        1 => ord == Equal,
        2 => ord != Equal,
        3 => ord == Greater,
        4 => ord != Less,
        5 => ord == Less,
        6 => ord != Greater,
        other => panic!("not a value comparator: {other}"),
    }
}
