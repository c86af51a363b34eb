//! UpdateTable: changes options and/or reserved throughput and echoes the result.

use crate::api::convert::{decode_request, encode_response};
use crate::api::create_table::{options_from_wire, refuse_stream, reserved_from_wire};
use crate::api::describe_table::{options_to_wire, reserved_to_wire};
use crate::error::{OtsError, OtsResult};
use crate::protocol::pb;
use crate::table::Catalog;

/// Handles UpdateTable.
pub fn update_table(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::UpdateTableRequest = decode_request(body)?;
    let options = options_from_wire(req.table_options.as_ref());
    let reserved = req
        .reserved_throughput
        .as_ref()
        .map(|r| reserved_from_wire(&r.capacity_unit));
    // Resolve the table first so a missing table answers 404 before any parameter check.
    catalog.table(instance, &req.table_name)?;
    if options.is_empty() && reserved.is_none() && req.stream_spec.is_none() {
        return Err(OtsError::param(
            "No parameter is specified in table options.",
        ));
    }
    refuse_stream(req.stream_spec.as_ref())?;
    let meta = catalog.update_table(instance, &req.table_name, &options, reserved)?;
    Ok(encode_response(&pb::UpdateTableResponse {
        reserved_throughput_details: reserved_to_wire(meta.reserved, &meta),
        table_options: options_to_wire(&meta.options),
        stream_details: None,
    }))
}
