//! One module per Tablestore operation: decode the protobuf request, validate it, call
//! `table`, encode the response. `Api` is parsed from the URL's last path segment.

mod batch_get_row;
mod batch_write_row;
mod compute_split_points;
pub mod convert;
mod create_table;
mod delete_row;
mod delete_table;
mod describe_table;
mod get_range;
mod get_row;
mod list_table;
mod put_row;
mod transaction;
mod update_row;
mod update_table;

use crate::error::OtsResult;
use crate::table::Catalog;

/// Every operation name otsd recognises (served or answered as unsupported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    CreateTable,
    ListTable,
    DescribeTable,
    UpdateTable,
    DeleteTable,
    ComputeSplitPointsBySize,
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

    /// True for operations that only read: they never wait on an fsync, so the server may
    /// answer them on its async workers instead of the blocking pool.
    pub fn is_read_only(self) -> bool {
        matches!(
            self,
            Api::ListTable | Api::DescribeTable | Api::GetRow | Api::BatchGetRow | Api::GetRange
        )
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
        Api::PutRow => put_row::put_row(catalog, instance, body),
        Api::GetRow => get_row::get_row(catalog, instance, body),
        Api::UpdateRow => update_row::update_row(catalog, instance, body),
        Api::DeleteRow => delete_row::delete_row(catalog, instance, body),
        Api::GetRange => get_range::get_range(catalog, instance, body),
        Api::BatchGetRow => batch_get_row::batch_get_row(catalog, instance, body),
        Api::BatchWriteRow => batch_write_row::batch_write_row(catalog, instance, body),
        Api::StartLocalTransaction => transaction::start_local_transaction(catalog, instance, body),
        Api::CommitTransaction => transaction::commit_transaction(catalog, instance, body),
        Api::AbortTransaction => transaction::abort_transaction(catalog, instance, body),
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::protocol::pb;
    use crate::protocol::plainbuffer::{
        self, Cell, ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row,
    };

    fn create(catalog: &Catalog) {
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
        handle(catalog, Api::CreateTable, "inst", &req.encode_to_vec()).unwrap();
    }

    #[test]
    fn put_then_get_round_trips_through_protobuf_and_plainbuffer() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        create(&catalog);
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
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        create(&catalog);
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
        let e = handle(&catalog, Api::ListTable, "../etc", &[]).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::ParameterInvalid);
        let e = handle(&catalog, Api::CommitTransaction, "inst", &[]).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::ParameterInvalid);
    }
}
