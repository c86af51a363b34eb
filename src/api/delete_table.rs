//! DeleteTable: drops the table and its data.

use crate::api::convert::{decode_request, encode_response};
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::table::Catalog;

/// Handles DeleteTable.
pub fn delete_table(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::DeleteTableRequest = decode_request(body)?;
    catalog.delete_table(instance, &req.table_name)?;
    Ok(encode_response(&pb::DeleteTableResponse {}))
}
