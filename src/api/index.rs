//! CreateIndex and DropIndex, and the wire form of a secondary index (IndexMeta), which
//! CreateTable and DescribeTable carry too.

use crate::api::convert::{decode_request, encode_response};
use crate::error::{OtsError, OtsResult};
use crate::protocol::pb;
use crate::table::index::{IndexKind, IndexMeta};
use crate::table::Catalog;

/// The table layer's index from its wire form (its id is the catalog's to assign).
///
/// Errors: 400 OTSParameterInvalid for an unknown index type or update mode, or a local
/// index that is not updated synchronously.
pub fn index_from_wire(wire: pb::IndexMeta) -> OtsResult<IndexMeta> {
    let kind = match pb::IndexType::try_from(wire.index_type) {
        Ok(pb::IndexType::ItGlobalIndex) => IndexKind::Global,
        Ok(pb::IndexType::ItLocalIndex) => IndexKind::Local,
        Err(_) => {
            return Err(OtsError::param(format!(
                "Invalid index type: {}.",
                wire.index_type
            )))
        }
    };
    match pb::IndexUpdateMode::try_from(wire.index_update_mode) {
        Ok(pb::IndexUpdateMode::IumAsyncIndex) if kind == IndexKind::Local => {
            return Err(OtsError::param(
                "A local index must use the sync update mode (IUM_SYNC_INDEX).",
            ))
        }
        Ok(_) => {}
        Err(_) => {
            return Err(OtsError::param(format!(
                "Invalid index update mode: {}.",
                wire.index_update_mode
            )))
        }
    }
    Ok(IndexMeta {
        name: wire.name,
        primary_key: wire.primary_key,
        defined_columns: wire.defined_column,
        kind,
        id: 0,
    })
}

/// The wire form of an index. otsd updates every index in the write that changes its
/// table, so a global index reports the async mode clients expect of it, yet is never
/// behind.
pub fn index_to_wire(index: &IndexMeta) -> pb::IndexMeta {
    let (index_type, mode) = match index.kind {
        IndexKind::Global => (
            pb::IndexType::ItGlobalIndex,
            pb::IndexUpdateMode::IumAsyncIndex,
        ),
        IndexKind::Local => (
            pb::IndexType::ItLocalIndex,
            pb::IndexUpdateMode::IumSyncIndex,
        ),
    };
    pb::IndexMeta {
        name: index.name.clone(),
        primary_key: index.primary_key.clone(),
        defined_column: index.defined_columns.clone(),
        index_update_mode: mode as i32,
        index_type: index_type as i32,
        index_sync_phase: Some(pb::IndexSyncPhase::IspIncr as i32),
    }
}

/// Handles CreateIndex.
pub fn create_index(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::CreateIndexRequest = decode_request(body)?;
    let index = index_from_wire(req.index_meta)?;
    let fill = req.include_base_data.unwrap_or(false);
    catalog.create_index(instance, &req.main_table_name, index, fill)?;
    Ok(encode_response(&pb::CreateIndexResponse {}))
}

/// Handles DropIndex.
pub fn drop_index(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::DropIndexRequest = decode_request(body)?;
    catalog.drop_index(instance, &req.main_table_name, &req.index_name)?;
    Ok(encode_response(&pb::DropIndexResponse {}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(index_type: i32, index_update_mode: i32) -> pb::IndexMeta {
        pb::IndexMeta {
            name: "i".into(),
            primary_key: vec!["c".into()],
            defined_column: vec!["d".into()],
            index_update_mode,
            index_type,
            index_sync_phase: None,
        }
    }

    #[test]
    fn indexes_round_trip_and_bad_kinds_are_refused() {
        let global = wire(
            pb::IndexType::ItGlobalIndex as i32,
            pb::IndexUpdateMode::IumAsyncIndex as i32,
        );
        let local = wire(
            pb::IndexType::ItLocalIndex as i32,
            pb::IndexUpdateMode::IumSyncIndex as i32,
        );
        for w in [global, local] {
            let back = index_to_wire(&index_from_wire(w.clone()).unwrap());
            assert_eq!(
                (back.primary_key, back.index_type),
                (w.primary_key, w.index_type)
            );
            assert_eq!(back.index_update_mode, w.index_update_mode);
        }
        let refused = [
            wire(7, 0),
            wire(0, 9),
            wire(
                pb::IndexType::ItLocalIndex as i32,
                pb::IndexUpdateMode::IumAsyncIndex as i32,
            ),
        ];
        for w in refused {
            let e = index_from_wire(w).unwrap_err();
            assert_eq!(e.code, crate::error::ErrorCode::ParameterInvalid);
        }
    }
}
