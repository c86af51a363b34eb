//! ListTable: the instance's table names in ascending order.

use crate::api::convert::encode_response;
use crate::error::OtsResult;
use crate::protocol::pb;
use crate::table::Catalog;

/// Handles ListTable (the request body carries nothing).
pub fn list_table(catalog: &Catalog, instance: &str, _body: &[u8]) -> OtsResult<Vec<u8>> {
    Ok(encode_response(&pb::ListTableResponse {
        table_names: catalog.list_tables(instance),
    }))
}
