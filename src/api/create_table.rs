//! CreateTable: checks the schema, options and throughput, then creates the table.

use crate::api::convert::{decode_request, encode_response};
use crate::api::index::index_from_wire;
use crate::error::{OtsError, OtsResult};
use crate::protocol::pb;
use crate::table::schema::{
    CapacityUnits, DefinedColumnSchema, DefinedColumnType, PkColumnSchema, PkType,
    TableOptionsPatch, TableSchema,
};
use crate::table::Catalog;

fn pk_type(raw: i32) -> OtsResult<PkType> {
    match pb::PrimaryKeyType::try_from(raw) {
        Ok(pb::PrimaryKeyType::Integer) => Ok(PkType::Integer),
        Ok(pb::PrimaryKeyType::String) => Ok(PkType::String),
        Ok(pb::PrimaryKeyType::Binary) => Ok(PkType::Binary),
        Ok(pb::PrimaryKeyType::PkBoolean) => Err(OtsError::param(
            "BOOLEAN is an invalid type for the primary key.",
        )),
        Err(_) => Err(OtsError::param(format!("Invalid column type: {raw}."))),
    }
}

/// The table-layer type of a wire defined-column type.
pub(crate) fn defined_type(raw: i32) -> OtsResult<DefinedColumnType> {
    Ok(match pb::DefinedColumnType::try_from(raw) {
        Ok(pb::DefinedColumnType::DctInteger) => DefinedColumnType::Integer,
        Ok(pb::DefinedColumnType::DctDouble) => DefinedColumnType::Double,
        Ok(pb::DefinedColumnType::DctBoolean) => DefinedColumnType::Boolean,
        Ok(pb::DefinedColumnType::DctString) => DefinedColumnType::String,
        Ok(pb::DefinedColumnType::DctBlob) => DefinedColumnType::Blob,
        Err(_) => return Err(OtsError::param(format!("Invalid column type: {raw}."))),
    })
}

/// The table-layer schema of a wire TableMeta.
pub fn schema_from_wire(meta: pb::TableMeta) -> OtsResult<TableSchema> {
    let mut primary_key = Vec::with_capacity(meta.primary_key.len());
    for col in meta.primary_key {
        let auto_increment = col.option == Some(pb::PrimaryKeyOption::AutoIncrement as i32);
        primary_key.push(PkColumnSchema {
            pk_type: pk_type(col.r#type)?,
            name: col.name,
            auto_increment,
        });
    }
    let mut defined_columns = Vec::with_capacity(meta.defined_column.len());
    for col in meta.defined_column {
        defined_columns.push(DefinedColumnSchema {
            column_type: defined_type(col.r#type)?,
            name: col.name,
        });
    }
    Ok(TableSchema {
        table_name: meta.table_name,
        primary_key,
        defined_columns,
    })
}

/// The options a request gives.
pub fn options_from_wire(options: Option<&pb::TableOptions>) -> TableOptionsPatch {
    match options {
        None => TableOptionsPatch::default(),
        Some(o) => TableOptionsPatch {
            time_to_live_secs: o.time_to_live,
            max_versions: o.max_versions,
            deviation_cell_version_in_sec: o.deviation_cell_version_in_sec,
            allow_update: o.allow_update,
        },
    }
}

/// Reserved throughput as the table layer keeps it.
pub fn reserved_from_wire(cu: &pb::CapacityUnit) -> CapacityUnits {
    CapacityUnits {
        read: cu.read.unwrap_or(0),
        write: cu.write.unwrap_or(0),
    }
}

/// Refuses a request to enable a stream: otsd serves no stream APIs, so accepting it would
/// silently drop what the client asked for. A request to keep streams disabled is a no-op.
///
/// Errors: 400 `OTSParameterInvalid` when `spec` enables a stream.
pub fn refuse_stream(spec: Option<&pb::StreamSpecification>) -> OtsResult<()> {
    if spec.is_some_and(|s| s.enable_stream) {
        return Err(OtsError::param("Streams are not supported by otsd."));
    }
    Ok(())
}

/// Handles CreateTable.
pub fn create_table(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::CreateTableRequest = decode_request(body)?;
    let indexes = req
        .index_metas
        .into_iter()
        .map(index_from_wire)
        .collect::<OtsResult<Vec<_>>>()?;
    refuse_stream(req.stream_spec.as_ref())?;
    if req.sse_spec.as_ref().is_some_and(|sse| sse.enable) {
        return Err(OtsError::param(
            "Server-side encryption is not supported by otsd.",
        ));
    }
    let options = options_from_wire(req.table_options.as_ref());
    let reserved = reserved_from_wire(&req.reserved_throughput.capacity_unit);
    let schema = schema_from_wire(req.table_meta)?;
    catalog.create_table_with_indexes(instance, schema, &options, reserved, indexes)?;
    Ok(encode_response(&pb::CreateTableResponse {}))
}
