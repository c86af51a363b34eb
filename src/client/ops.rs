//! One typed method per Tablestore API (protobuf in, protobuf out, over `Client::call`), and
//! small conveniences that speak rows instead: they build the PlainBuffer of a request and
//! decode the rows of its response with `protocol::plainbuffer`.

use super::error::{ClientError, ServiceError};
use super::Client;
use crate::protocol::pb;
use crate::protocol::plainbuffer::{
    decode_row, decode_rows, encode_primary_key, encode_row, PrimaryKeyColumn, Row,
};

/// Result alias of the client.
pub type Result<T> = std::result::Result<T, ClientError>;

/// The condition of a write: row existence plus an optional serialized column `Filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// What the row's existence must be before the write.
    pub row_existence: pb::RowExistenceExpectation,
    /// A serialized `pb::Filter` over the current row, if any.
    pub column_condition: Option<Vec<u8>>,
}

impl Condition {
    /// Write whether or not the row exists.
    pub fn ignore() -> Condition {
        Condition::from(pb::RowExistenceExpectation::Ignore)
    }

    /// Write only if the row exists.
    pub fn expect_exist() -> Condition {
        Condition::from(pb::RowExistenceExpectation::ExpectExist)
    }

    /// Write only if the row does not exist.
    pub fn expect_not_exist() -> Condition {
        Condition::from(pb::RowExistenceExpectation::ExpectNotExist)
    }

    /// The protobuf message.
    pub fn to_pb(&self) -> pb::Condition {
        pb::Condition {
            row_existence: self.row_existence as i32,
            column_condition: self.column_condition.clone(),
        }
    }
}

impl From<pb::RowExistenceExpectation> for Condition {
    fn from(row_existence: pb::RowExistenceExpectation) -> Condition {
        Condition {
            row_existence,
            column_condition: None,
        }
    }
}

/// One page of a GetRange: its rows and where the next page starts (`None`: range done).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RangePage {
    /// Rows in range order.
    pub rows: Vec<Row>,
    /// The inclusive start key of the next page, if the server stopped early.
    pub next_start: Option<Vec<PrimaryKeyColumn>>,
}

/// One row change of a BatchWriteRow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowWrite {
    /// Replace the whole row.
    Put(Row, Condition),
    /// Replace the whole row, given as an encoded PlainBuffer row
    /// ([`crate::protocol::plainbuffer::encode_row_with_cells`]): how a fan-out writes the
    /// same cells under many keys without encoding them per row.
    PutEncoded(Vec<u8>, Condition),
    /// Change some cells of the row (cells may carry delete ops).
    Update(Row, Condition),
    /// Delete the row with this primary key.
    Delete(Vec<PrimaryKeyColumn>, Condition),
}

impl RowWrite {
    /// The protobuf row of a BatchWriteRow table entry (no return content).
    pub fn to_pb(&self) -> pb::RowInBatchWriteRowRequest {
        let (kind, row_change, condition) = match self {
            RowWrite::Put(row, c) => (pb::OperationType::Put, encode_row(row), c),
            RowWrite::PutEncoded(bytes, c) => (pb::OperationType::Put, bytes.clone(), c),
            RowWrite::Update(row, c) => (pb::OperationType::Update, encode_row(row), c),
            RowWrite::Delete(pk, c) => (pb::OperationType::Delete, delete_key(pk), c),
        };
        pb::RowInBatchWriteRowRequest {
            r#type: kind as i32,
            row_change,
            condition: condition.to_pb(),
            return_content: None,
        }
    }
}

/// A CreateTable request with `primary_key` as schema, no defined columns, no TTL
/// (`time_to_live` -1), one version and zero reserved throughput.
pub fn create_table_request(
    table: &str,
    primary_key: &[(&str, pb::PrimaryKeyType)],
) -> pb::CreateTableRequest {
    pb::CreateTableRequest {
        table_meta: pb::TableMeta {
            table_name: table.to_string(),
            primary_key: primary_key
                .iter()
                .map(|(name, kind)| pb::PrimaryKeySchema {
                    name: (*name).to_string(),
                    r#type: *kind as i32,
                    option: None,
                })
                .collect(),
            ..Default::default()
        },
        reserved_throughput: pb::ReservedThroughput {
            capacity_unit: pb::CapacityUnit {
                read: Some(0),
                write: Some(0),
            },
        },
        table_options: Some(pb::TableOptions {
            time_to_live: Some(-1),
            max_versions: Some(1),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The PlainBuffer of a DeleteRow key: the primary key with the delete marker.
fn delete_key(pk: &[PrimaryKeyColumn]) -> Vec<u8> {
    encode_row(&Row {
        primary_key: pk.to_vec(),
        cells: Vec::new(),
        delete_marker: true,
    })
}

fn return_content(return_type: pb::ReturnType) -> Option<pb::ReturnContent> {
    (return_type != pb::ReturnType::RtNone).then(|| pb::ReturnContent {
        return_type: Some(return_type as i32),
        return_column_names: Vec::new(),
    })
}

/// Decodes an optional single-row field; absent or empty bytes mean "no row".
fn optional_row(api: &str, field: &'static str, bytes: Option<&[u8]>) -> Result<Option<Row>> {
    match bytes {
        None | Some([]) => Ok(None),
        Some(bytes) => decode_row(bytes)
            .map(Some)
            .map_err(|source| ClientError::PlainBuffer {
                api: api.to_string(),
                field,
                source,
            }),
    }
}

fn service_error(error: Option<pb::Error>) -> ServiceError {
    let error = error.unwrap_or_default();
    ServiceError {
        // Per-row errors travel inside a 200 answer; report them with that status.
        status: 200,
        code: error.code,
        message: error.message.unwrap_or_default(),
        request_id: None,
    }
}

impl Client {
    /// CreateTable.
    pub async fn create_table(
        &self,
        req: &pb::CreateTableRequest,
    ) -> Result<pb::CreateTableResponse> {
        self.call("CreateTable", req).await
    }

    /// DeleteTable.
    pub async fn delete_table(
        &self,
        req: &pb::DeleteTableRequest,
    ) -> Result<pb::DeleteTableResponse> {
        self.call("DeleteTable", req).await
    }

    /// DescribeTable.
    pub async fn describe_table(
        &self,
        req: &pb::DescribeTableRequest,
    ) -> Result<pb::DescribeTableResponse> {
        self.call("DescribeTable", req).await
    }

    /// ListTable: the instance's table names.
    pub async fn list_table(&self) -> Result<pb::ListTableResponse> {
        self.call("ListTable", &pb::ListTableRequest {}).await
    }

    /// UpdateTable.
    pub async fn update_table(
        &self,
        req: &pb::UpdateTableRequest,
    ) -> Result<pb::UpdateTableResponse> {
        self.call("UpdateTable", req).await
    }

    /// PutRow.
    pub async fn put_row(&self, req: &pb::PutRowRequest) -> Result<pb::PutRowResponse> {
        self.call("PutRow", req).await
    }

    /// GetRow.
    pub async fn get_row(&self, req: &pb::GetRowRequest) -> Result<pb::GetRowResponse> {
        self.call("GetRow", req).await
    }

    /// UpdateRow.
    pub async fn update_row(&self, req: &pb::UpdateRowRequest) -> Result<pb::UpdateRowResponse> {
        self.call("UpdateRow", req).await
    }

    /// DeleteRow.
    pub async fn delete_row(&self, req: &pb::DeleteRowRequest) -> Result<pb::DeleteRowResponse> {
        self.call("DeleteRow", req).await
    }

    /// GetRange.
    pub async fn get_range(&self, req: &pb::GetRangeRequest) -> Result<pb::GetRangeResponse> {
        self.call("GetRange", req).await
    }

    /// BatchGetRow.
    pub async fn batch_get_row(
        &self,
        req: &pb::BatchGetRowRequest,
    ) -> Result<pb::BatchGetRowResponse> {
        self.call("BatchGetRow", req).await
    }

    /// BatchWriteRow.
    pub async fn batch_write_row(
        &self,
        req: &pb::BatchWriteRowRequest,
    ) -> Result<pb::BatchWriteRowResponse> {
        self.call("BatchWriteRow", req).await
    }

    /// Creates `table` with the given primary key (see `create_table_request`).
    pub async fn create_simple_table(
        &self,
        table: &str,
        primary_key: &[(&str, pb::PrimaryKeyType)],
    ) -> Result<()> {
        self.create_table(&create_table_request(table, primary_key))
            .await
            .map(drop)
    }

    /// Whether `table` exists (DescribeTable answered, or said OTSObjectNotExist).
    pub async fn table_exists(&self, table: &str) -> Result<bool> {
        let req = pb::DescribeTableRequest {
            table_name: table.to_string(),
        };
        match self.describe_table(&req).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_object_not_exist() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes `row` whole under `condition`; returns the row the server sent back for
    /// `return_type` (`RtPk`: the primary key, useful with auto-increment), if any.
    pub async fn put(
        &self,
        table: &str,
        row: &Row,
        condition: Condition,
        return_type: pb::ReturnType,
    ) -> Result<Option<Row>> {
        let req = pb::PutRowRequest {
            table_name: table.to_string(),
            row: encode_row(row),
            condition: condition.to_pb(),
            return_content: return_content(return_type),
            transaction_id: None,
        };
        let resp = self.put_row(&req).await?;
        optional_row("PutRow", "PutRowResponse.row", resp.row.as_deref())
    }

    /// Reads the latest version of `columns` (all when empty) of the row at `primary_key`;
    /// `None` when the row does not exist.
    pub async fn get(
        &self,
        table: &str,
        primary_key: &[PrimaryKeyColumn],
        columns: &[&str],
    ) -> Result<Option<Row>> {
        let req = pb::GetRowRequest {
            table_name: table.to_string(),
            primary_key: encode_primary_key(primary_key),
            columns_to_get: columns.iter().map(|c| (*c).to_string()).collect(),
            max_versions: Some(1),
            ..Default::default()
        };
        let resp = self.get_row(&req).await?;
        optional_row("GetRow", "GetRowResponse.row", Some(&resp.row))
    }

    /// Applies the cells of `row` (puts, and deletes via `Cell::op`) under `condition`.
    pub async fn update(
        &self,
        table: &str,
        row: &Row,
        condition: Condition,
        return_type: pb::ReturnType,
    ) -> Result<Option<Row>> {
        let req = pb::UpdateRowRequest {
            table_name: table.to_string(),
            row_change: encode_row(row),
            condition: condition.to_pb(),
            return_content: return_content(return_type),
            transaction_id: None,
        };
        let resp = self.update_row(&req).await?;
        optional_row("UpdateRow", "UpdateRowResponse.row", resp.row.as_deref())
    }

    /// Deletes the row at `primary_key` under `condition`.
    pub async fn delete(
        &self,
        table: &str,
        primary_key: &[PrimaryKeyColumn],
        condition: Condition,
    ) -> Result<()> {
        let req = pb::DeleteRowRequest {
            table_name: table.to_string(),
            primary_key: delete_key(primary_key),
            condition: condition.to_pb(),
            return_content: None,
            transaction_id: None,
        };
        self.delete_row(&req).await.map(drop)
    }

    /// One page of rows in [`start`, `end`) (use `InfMin`/`InfMax` values for open ends),
    /// latest versions only, at most `limit` rows when given.
    pub async fn range(
        &self,
        table: &str,
        start: &[PrimaryKeyColumn],
        end: &[PrimaryKeyColumn],
        direction: pb::Direction,
        limit: Option<i32>,
    ) -> Result<RangePage> {
        let req = pb::GetRangeRequest {
            table_name: table.to_string(),
            direction: direction as i32,
            max_versions: Some(1),
            limit,
            inclusive_start_primary_key: encode_primary_key(start),
            exclusive_end_primary_key: encode_primary_key(end),
            ..Default::default()
        };
        let resp = self.get_range(&req).await?;
        let rows = decode_rows(&resp.rows).map_err(|source| ClientError::PlainBuffer {
            api: "GetRange".to_string(),
            field: "GetRangeResponse.rows",
            source,
        })?;
        let next_start = optional_row(
            "GetRange",
            "GetRangeResponse.next_start_primary_key",
            resp.next_start_primary_key.as_deref(),
        )?
        .map(|row| row.primary_key);
        Ok(RangePage { rows, next_start })
    }

    /// Every row in [`start`, `end`), following `next_start` page by page.
    pub async fn range_all(
        &self,
        table: &str,
        start: &[PrimaryKeyColumn],
        end: &[PrimaryKeyColumn],
        direction: pb::Direction,
    ) -> Result<Vec<Row>> {
        let mut rows = Vec::new();
        let mut from = start.to_vec();
        loop {
            let page = self.range(table, &from, end, direction, None).await?;
            rows.extend(page.rows);
            match page.next_start {
                Some(next) => from = next,
                None => return Ok(rows),
            }
        }
    }

    /// Writes `writes` to `table` in one BatchWriteRow; one result per write, in order.
    ///
    /// # Errors
    /// The whole request failed; per-row failures are in the returned vector.
    pub async fn batch_write(
        &self,
        table: &str,
        writes: &[RowWrite],
    ) -> Result<Vec<std::result::Result<(), ServiceError>>> {
        let mut results = self.batch_write_tables(&[(table, writes)]).await?;
        Ok(results.pop().unwrap_or_default())
    }

    /// Writes to several tables in one BatchWriteRow: one round trip, each row still atomic
    /// on its own. One result vector per `(table, writes)` entry, each in write order.
    ///
    /// # Errors
    /// The whole request failed, or the answer does not match the request's shape;
    /// per-row failures are in the returned vectors.
    pub async fn batch_write_tables(
        &self,
        tables: &[(&str, &[RowWrite])],
    ) -> Result<Vec<Vec<std::result::Result<(), ServiceError>>>> {
        let req = pb::BatchWriteRowRequest {
            tables: tables
                .iter()
                .map(|(table, writes)| pb::TableInBatchWriteRowRequest {
                    table_name: table.to_string(),
                    rows: writes.iter().map(RowWrite::to_pb).collect(),
                })
                .collect(),
            ..Default::default()
        };
        let resp = self.batch_write_row(&req).await?;
        let shape_error = |what: String| ClientError::Decode {
            api: "BatchWriteRow".to_string(),
            what,
        };
        if resp.tables.len() != tables.len() {
            return Err(shape_error(format!(
                "{} table results for {} tables",
                resp.tables.len(),
                tables.len()
            )));
        }
        resp.tables
            .into_iter()
            .zip(tables)
            .map(|(answer, (table, writes))| {
                if answer.rows.len() != writes.len() {
                    return Err(shape_error(format!(
                        "{} row results for {} writes to {table}",
                        answer.rows.len(),
                        writes.len()
                    )));
                }
                Ok(answer
                    .rows
                    .into_iter()
                    .map(|r| {
                        if r.is_ok {
                            Ok(())
                        } else {
                            Err(service_error(r.error))
                        }
                    })
                    .collect())
            })
            .collect()
    }

    /// Reads the rows at `keys` of `table` in one BatchGetRow (latest versions of
    /// `columns`, all when empty); one result per key, in order, `None` for missing rows.
    ///
    /// # Errors
    /// The whole request failed; per-row failures are in the returned vector.
    pub async fn batch_get(
        &self,
        table: &str,
        keys: &[Vec<PrimaryKeyColumn>],
        columns: &[&str],
    ) -> Result<Vec<std::result::Result<Option<Row>, ServiceError>>> {
        let req = pb::BatchGetRowRequest {
            tables: vec![pb::TableInBatchGetRowRequest {
                table_name: table.to_string(),
                primary_key: keys.iter().map(|k| encode_primary_key(k)).collect(),
                columns_to_get: columns.iter().map(|c| (*c).to_string()).collect(),
                max_versions: Some(1),
                ..Default::default()
            }],
        };
        let resp = self.batch_get_row(&req).await?;
        let rows = resp
            .tables
            .into_iter()
            .next()
            .map(|t| t.rows)
            .unwrap_or_default();
        if rows.len() != keys.len() {
            return Err(ClientError::Decode {
                api: "BatchGetRow".to_string(),
                what: format!("{} row results for {} keys", rows.len(), keys.len()),
            });
        }
        rows.into_iter()
            .map(|r| {
                if r.is_ok {
                    optional_row(
                        "BatchGetRow",
                        "RowInBatchGetRowResponse.row",
                        r.row.as_deref(),
                    )
                    .map(Ok)
                } else {
                    Ok(Err(service_error(r.error)))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::plainbuffer::{Cell, ColumnValue, PrimaryKeyValue};

    fn pk(id: i64) -> Vec<PrimaryKeyColumn> {
        vec![PrimaryKeyColumn::new("id", PrimaryKeyValue::Integer(id))]
    }

    #[test]
    fn delete_writes_carry_the_delete_marker() {
        let w = RowWrite::Delete(pk(7), Condition::expect_exist()).to_pb();
        assert_eq!(w.r#type, pb::OperationType::Delete as i32);
        assert_eq!(w.condition.row_existence, 1);
        let row = decode_row(&w.row_change).expect("valid PlainBuffer");
        assert!(row.delete_marker);
        assert_eq!(row.primary_key, pk(7));
    }

    #[test]
    fn put_writes_round_trip_their_row() {
        let row = Row {
            primary_key: pk(1),
            cells: vec![Cell::put("v", ColumnValue::String("x".into()), None)],
            delete_marker: false,
        };
        let w = RowWrite::Put(row.clone(), Condition::ignore()).to_pb();
        assert_eq!(w.r#type, pb::OperationType::Put as i32);
        assert_eq!(decode_row(&w.row_change).expect("valid"), row);
    }

    #[test]
    fn create_table_request_sets_schema_and_defaults() {
        let req = create_table_request(
            "t",
            &[
                ("a", pb::PrimaryKeyType::String),
                ("b", pb::PrimaryKeyType::Integer),
            ],
        );
        assert_eq!(req.table_meta.table_name, "t");
        let names: Vec<_> = req
            .table_meta
            .primary_key
            .iter()
            .map(|p| (p.name.as_str(), p.r#type))
            .collect();
        assert_eq!(names, [("a", 2), ("b", 1)]);
        let opts = req.table_options.expect("options set");
        assert_eq!((opts.time_to_live, opts.max_versions), (Some(-1), Some(1)));
    }

    #[test]
    fn empty_or_absent_rows_mean_no_row_and_garbage_names_its_field() {
        assert_eq!(optional_row("GetRow", "f", None).expect("ok"), None);
        assert_eq!(optional_row("GetRow", "f", Some(&[])).expect("ok"), None);
        let err =
            optional_row("GetRow", "GetRowResponse.row", Some(&[1, 2, 3])).expect_err("garbage");
        assert!(err.to_string().contains("GetRowResponse.row"), "{err}");
    }

    #[test]
    fn return_content_is_sent_only_when_asked_for() {
        assert_eq!(return_content(pb::ReturnType::RtNone), None);
        assert_eq!(
            return_content(pb::ReturnType::RtPk).and_then(|r| r.return_type),
            Some(1)
        );
    }
}
