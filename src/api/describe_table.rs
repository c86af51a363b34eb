//! DescribeTable: schema, options, reserved throughput and status of one table.

use crate::api::convert::{decode_request, encode_response};
use crate::api::index::index_to_wire;
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::table::schema::{CapacityUnits, DefinedColumnType, PkType, TableOptions};
use crate::table::{Catalog, TableMeta};

/// The wire TableMeta of a table.
pub fn table_meta_to_wire(meta: &TableMeta) -> pb::TableMeta {
    let primary_key = meta
        .schema
        .primary_key
        .iter()
        .map(|c| pb::PrimaryKeySchema {
            name: c.name.clone(),
            r#type: match c.pk_type {
                PkType::Integer => pb::PrimaryKeyType::Integer,
                PkType::String => pb::PrimaryKeyType::String,
                PkType::Binary => pb::PrimaryKeyType::Binary,
            } as i32,
            option: c
                .auto_increment
                .then_some(pb::PrimaryKeyOption::AutoIncrement as i32),
        })
        .collect();
    let defined_column = meta
        .schema
        .defined_columns
        .iter()
        .map(|c| pb::DefinedColumnSchema {
            name: c.name.clone(),
            r#type: match c.column_type {
                DefinedColumnType::Integer => pb::DefinedColumnType::DctInteger,
                DefinedColumnType::Double => pb::DefinedColumnType::DctDouble,
                DefinedColumnType::Boolean => pb::DefinedColumnType::DctBoolean,
                DefinedColumnType::String => pb::DefinedColumnType::DctString,
                DefinedColumnType::Blob => pb::DefinedColumnType::DctBlob,
            } as i32,
        })
        .collect();
    pb::TableMeta {
        table_name: meta.schema.table_name.clone(),
        primary_key,
        defined_column,
        index_meta: meta.indexes.iter().map(index_to_wire).collect(),
    }
}

/// The wire TableOptions.
pub fn options_to_wire(o: &TableOptions) -> pb::TableOptions {
    pb::TableOptions {
        time_to_live: Some(o.time_to_live_secs),
        max_versions: Some(o.max_versions),
        deviation_cell_version_in_sec: Some(o.deviation_cell_version_in_sec),
        allow_update: Some(o.allow_update),
        ..Default::default()
    }
}

/// The wire ReservedThroughputDetails.
pub fn reserved_to_wire(cu: CapacityUnits, meta: &TableMeta) -> pb::ReservedThroughputDetails {
    pb::ReservedThroughputDetails {
        capacity_unit: pb::CapacityUnit {
            read: Some(cu.read),
            write: Some(cu.write),
        },
        last_increase_time: meta.last_increase_time_secs,
        last_decrease_time: meta.last_decrease_time_secs,
    }
}

/// Handles DescribeTable.
pub fn describe_table(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::DescribeTableRequest = decode_request(body)?;
    let meta = catalog.table(instance, &req.table_name)?.meta();
    Ok(encode_response(&pb::DescribeTableResponse {
        table_meta: table_meta_to_wire(&meta),
        reserved_throughput_details: reserved_to_wire(meta.reserved, &meta),
        table_options: options_to_wire(&meta.options),
        table_status: pb::TableStatus::Active as i32,
        creation_time: Some(meta.creation_time_us),
        index_metas: meta.indexes.iter().map(index_to_wire).collect(),
        ..Default::default()
    }))
}
