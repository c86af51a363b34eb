//! ComputeSplitPointsBySize: otsd keeps each table in one partition, so the answer is a
//! single split covering the whole table.

use crate::api::convert::{consumed, decode_request, encode_response};
use crate::api::describe_table::table_meta_to_wire;
use crate::error::{OtsError, OtsResult};
use crate::protocol::pb;
use crate::table::capacity::Consumed;
use crate::table::Catalog;

/// Handles ComputeSplitPointsBySize.
pub fn compute_split_points(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::ComputeSplitPointsBySizeRequest = decode_request(body)?;
    let table = catalog.table(instance, &req.table_name)?;
    if req.split_size <= 0 {
        return Err(OtsError::param("The split size must be greater than 0."));
    }
    let meta = table.meta();
    Ok(encode_response(&pb::ComputeSplitPointsBySizeResponse {
        consumed: consumed(Consumed::read(0)),
        schema: table_meta_to_wire(&meta).primary_key,
        split_points: vec![],
        locations: vec![pb::compute_split_points_by_size_response::SplitLocation {
            location: String::new(),
            repeat: 1,
        }],
    }))
}
