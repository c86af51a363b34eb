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
mod update_row;
mod update_table;

use crate::error::{OtsError, OtsResult};
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
        Api::StartLocalTransaction | Api::CommitTransaction | Api::AbortTransaction => Err(
            OtsError::param(format!("Unsupported operation: '{}'.", api.name())),
        ),
    }
}
