//! Conversions shared by the operation handlers: protobuf and PlainBuffer request parts into
//! `table` types, and `table` results back into response parts.

use prost::Message;

use crate::engine::PkValue;
use crate::error::{OtsError, OtsResult};
use crate::protocol::pb;
use crate::protocol::plainbuffer::{
    self, CellOp, CellRef, ColumnValue, PkValueRef, PrimaryKeyColumn, PrimaryKeyValue, RowsEncoder,
    ValueRef,
};
use crate::table::capacity::Consumed;
use crate::table::condition::{Condition, RowExistence};
use crate::table::filter::{CastType, Comparator, Filter, LogicalOp, ValueTransfer};
use crate::table::row::{ColumnChange, PrimaryKey, ReadSpec, RowData, RowView, TimeRange};
use crate::table::schema::{PkInput, RequestKey};

/// A write request row: its key and its column changes.
pub type RowParts = (RequestKey, Vec<ColumnChange>);
use crate::table::value::{Value, ValueView};
use crate::table::write::ReturnKind;

/// Decodes a protobuf request body.
///
/// Errors: 400 OTSParameterInvalid when the bytes are not the message.
pub fn decode_request<M: Message + Default>(body: &[u8]) -> OtsResult<M> {
    M::decode(body).map_err(|e| {
        tracing::debug!(error = %e, "request body does not decode");
        OtsError::param("Parse PBMessage from RawString failed.")
    })
}

/// Encodes a protobuf response body.
pub fn encode_response<M: Message>(message: &M) -> Vec<u8> {
    message.encode_to_vec()
}

/// Decodes one PlainBuffer row (a request row or key).
///
/// Errors: 400 OTSParameterInvalid naming what was malformed.
pub fn decode_row(bytes: &[u8]) -> OtsResult<plainbuffer::Row> {
    plainbuffer::decode_row(bytes)
        .map_err(|e| OtsError::param(format!("Invalid PlainBuffer row: {e}.")))
}

/// The primary key of a request row as the table layer takes it.
pub fn pk_inputs(pk: Vec<PrimaryKeyColumn>) -> Vec<(String, PkInput)> {
    pk.into_iter()
        .map(|c| {
            let value = match c.value {
                PrimaryKeyValue::Integer(i) => PkInput::Value(PkValue::Integer(i)),
                PrimaryKeyValue::String(s) => PkInput::Value(PkValue::String(s)),
                PrimaryKeyValue::Binary(b) => PkInput::Value(PkValue::Binary(b)),
                PrimaryKeyValue::InfMin => PkInput::Value(PkValue::InfMin),
                PrimaryKeyValue::InfMax => PkInput::Value(PkValue::InfMax),
                PrimaryKeyValue::AutoIncrement => PkInput::AutoIncrement,
            };
            (c.name, value)
        })
        .collect()
}

/// A key-only request row (GetRow key, range bound): rejects attribute cells.
pub fn key_row(bytes: &[u8]) -> OtsResult<Vec<(String, PkInput)>> {
    let row = decode_row(bytes)?;
    if !row.cells.is_empty() {
        return Err(OtsError::param(
            "Attribute column cannot be given while reading data.",
        ));
    }
    if row.delete_marker {
        return Err(OtsError::param("Delete marker cannot be given."));
    }
    Ok(pk_inputs(row.primary_key))
}

/// Converts a wire value into a table value.
pub fn value_from_wire(v: ColumnValue) -> Value {
    match v {
        ColumnValue::Integer(i) => Value::Integer(i),
        ColumnValue::Double(d) => Value::Double(d),
        ColumnValue::Boolean(b) => Value::Boolean(b),
        ColumnValue::String(s) => Value::String(s),
        ColumnValue::Binary(b) => Value::Binary(b),
    }
}

fn value_ref(v: &Value) -> ValueRef<'_> {
    match v {
        Value::Integer(i) => ValueRef::Integer(*i),
        Value::Double(d) => ValueRef::Double(*d),
        Value::Boolean(b) => ValueRef::Boolean(*b),
        Value::String(s) => ValueRef::String(s),
        Value::Binary(b) => ValueRef::Binary(b),
    }
}

fn value_view_ref(v: ValueView<'_>) -> ValueRef<'_> {
    match v {
        ValueView::Integer(i) => ValueRef::Integer(i),
        ValueView::Double(d) => ValueRef::Double(d),
        ValueView::Boolean(b) => ValueRef::Boolean(b),
        ValueView::String(s) => ValueRef::String(s),
        ValueView::Binary(b) => ValueRef::Binary(b),
    }
}

/// The PutRow form of a request row: key plus put cells.
///
/// Errors: 400 for a delete marker or cells with an op or without a value.
pub fn put_row_parts(bytes: &[u8]) -> OtsResult<RowParts> {
    let row = decode_row(bytes)?;
    if row.delete_marker {
        return Err(OtsError::param(
            "Invalid request of put/update row: unexpected RowDeleteMarker in request.",
        ));
    }
    let mut cells = Vec::with_capacity(row.cells.len());
    for cell in row.cells {
        if cell.op.is_some() {
            return Err(OtsError::param(format!(
                "OpType cannot be given for column name:{} in PutRow.",
                cell.name
            )));
        }
        let value = cell.value.ok_or_else(|| {
            OtsError::param("Invalid request of put row: find cells without values.")
        })?;
        cells.push(ColumnChange::Put {
            name: cell.name,
            value: value_from_wire(value),
            timestamp_ms: cell.timestamp,
        });
    }
    Ok((pk_inputs(row.primary_key), cells))
}

/// The UpdateRow form of a request row: key plus column changes.
///
/// Errors: 400 for a delete marker or an op/value/timestamp combination the op forbids.
pub fn update_row_parts(bytes: &[u8]) -> OtsResult<RowParts> {
    let row = decode_row(bytes)?;
    if row.delete_marker {
        return Err(OtsError::param(
            "Invalid request of put/update row: unexpected RowDeleteMarker in request.",
        ));
    }
    let mut changes = Vec::with_capacity(row.cells.len());
    for cell in row.cells {
        let name = cell.name;
        let change = match cell.op {
            None => {
                let value = cell.value.ok_or_else(|| {
                    OtsError::param(format!("Invalid cell: {name}. Reason: missing value."))
                })?;
                ColumnChange::Put {
                    name,
                    value: value_from_wire(value),
                    timestamp_ms: cell.timestamp,
                }
            }
            Some(CellOp::DeleteOneVersion) => {
                if cell.value.is_some() {
                    return Err(OtsError::param("Column value cannot be given when type is DELETE_ONE_VERSION,DELETE_ALL_VERSION."));
                }
                let ts = cell.timestamp.ok_or_else(|| {
                    OtsError::param("Timestamp must be given when type is DELETE_ONE_VERSION.")
                })?;
                ColumnChange::DeleteOneVersion {
                    name,
                    timestamp_ms: ts,
                }
            }
            Some(CellOp::DeleteAllVersions) => {
                if cell.value.is_some() {
                    return Err(OtsError::param("Column value cannot be given when type is DELETE_ONE_VERSION,DELETE_ALL_VERSION."));
                }
                if cell.timestamp.is_some() {
                    return Err(OtsError::param(
                        "Timestamp cannot be given when type is DELETE_ALL_VERSION.",
                    ));
                }
                ColumnChange::DeleteAllVersions { name }
            }
            Some(CellOp::Increment) => {
                if cell.timestamp.is_some() {
                    return Err(OtsError::param(
                        "Timestamp cannot be given when type is INCREMENT.",
                    ));
                }
                match cell.value {
                    Some(ColumnValue::Integer(delta)) => ColumnChange::Increment { name, delta },
                    _ => {
                        return Err(OtsError::param(format!(
                            "The increment value of column '{name}' must be an integer."
                        )))
                    }
                }
            }
        };
        changes.push(change);
    }
    Ok((pk_inputs(row.primary_key), changes))
}

/// The DeleteRow form of a request row: key only, delete marker required.
pub fn delete_row_key(bytes: &[u8]) -> OtsResult<Vec<(String, PkInput)>> {
    let row = decode_row(bytes)?;
    if !row.delete_marker {
        return Err(OtsError::param(
            "Invalid request of delete row: missing RowDeleteMarker in request.",
        ));
    }
    if !row.cells.is_empty() {
        return Err(OtsError::param(
            "Invalid delete row request: unexpected cells in request.",
        ));
    }
    Ok(pk_inputs(row.primary_key))
}

/// The write condition of a request.
///
/// Errors: 400 for an unknown expectation; column conditions are handled by the caller.
pub fn condition(c: &pb::Condition) -> OtsResult<Condition> {
    let row_existence = match pb::RowExistenceExpectation::try_from(c.row_existence) {
        Ok(pb::RowExistenceExpectation::Ignore) => RowExistence::Ignore,
        Ok(pb::RowExistenceExpectation::ExpectExist) => RowExistence::ExpectExist,
        Ok(pb::RowExistenceExpectation::ExpectNotExist) => RowExistence::ExpectNotExist,
        Err(_) => {
            return Err(OtsError::param(format!(
                "Invalid row-existence expectation: {}.",
                c.row_existence
            )))
        }
    };
    let column_condition = filter(c.column_condition.as_deref())?;
    if matches!(column_condition, Some(Filter::Pagination { .. })) {
        return Err(OtsError::param(
            "Invalid condition: ColumnPaginationFilter.",
        ));
    }
    Ok(Condition {
        row_existence,
        column_condition,
    })
}

/// A filter's ValueTransferRule; an absent cast type keeps the match a string.
fn value_transfer(rule: &pb::ValueTransferRule) -> OtsResult<ValueTransfer> {
    let cast = match rule.cast_type.map(pb::VariantType::try_from) {
        None | Some(Ok(pb::VariantType::VtString)) => CastType::String,
        Some(Ok(pb::VariantType::VtInteger)) => CastType::Integer,
        Some(Ok(pb::VariantType::VtDouble)) => CastType::Double,
        Some(_) => {
            return Err(OtsError::param(format!(
                "Invalid cast type of the value transfer rule: {}; it must be VT_INTEGER, \
                 VT_DOUBLE or VT_STRING.",
                rule.cast_type.unwrap_or_default()
            )))
        }
    };
    ValueTransfer::new(&rule.regex, cast)
}

fn decode_filter(bytes: &[u8], depth: usize) -> OtsResult<Filter> {
    if depth > MAX_FILTER_DEPTH {
        return Err(OtsError::param("Deserialize filter failed."));
    }
    let f: pb::Filter =
        pb::Filter::decode(bytes).map_err(|_| OtsError::param("Deserialize filter failed."))?;
    match pb::FilterType::try_from(f.r#type) {
        Ok(pb::FilterType::FtSingleColumnValue) => {
            let s = pb::SingleColumnValueFilter::decode(&f.filter[..])
                .map_err(|_| OtsError::param("Deserialize relation filter failed."))?;
            let transfer = s
                .value_trans_rule
                .as_ref()
                .map(value_transfer)
                .transpose()?;
            let comparator = match pb::ComparatorType::try_from(s.comparator) {
                Ok(pb::ComparatorType::CtEqual) => Comparator::Equal,
                Ok(pb::ComparatorType::CtNotEqual) => Comparator::NotEqual,
                Ok(pb::ComparatorType::CtGreaterThan) => Comparator::GreaterThan,
                Ok(pb::ComparatorType::CtGreaterEqual) => Comparator::GreaterEqual,
                Ok(pb::ComparatorType::CtLessThan) => Comparator::LessThan,
                Ok(pb::ComparatorType::CtLessEqual) => Comparator::LessEqual,
                Ok(pb::ComparatorType::CtExist) => Comparator::Exist,
                Ok(pb::ComparatorType::CtNotExist) => Comparator::NotExist,
                Err(_) => {
                    return Err(OtsError::param(format!(
                        "Invalid relation operator: {}.",
                        s.comparator
                    )))
                }
            };
            let value = match comparator {
                Comparator::Exist | Comparator::NotExist if s.column_value.is_empty() => None,
                _ => Some(value_from_wire(
                    plainbuffer::decode_value(&s.column_value)
                        .map_err(|_| OtsError::param("Deserialize relation filter failed."))?,
                )),
            };
            Ok(Filter::Single {
                column: s.column_name,
                comparator,
                value,
                pass_if_missing: !s.filter_if_missing,
                latest_version_only: s.latest_version_only,
                transfer,
            })
        }
        Ok(pb::FilterType::FtCompositeColumnValue) => {
            let c = pb::CompositeColumnValueFilter::decode(&f.filter[..])
                .map_err(|_| OtsError::param("Deserialize composite filter failed."))?;
            let op = match pb::LogicalOperator::try_from(c.combinator) {
                Ok(pb::LogicalOperator::LoNot) => LogicalOp::Not,
                Ok(pb::LogicalOperator::LoAnd) => LogicalOp::And,
                Ok(pb::LogicalOperator::LoOr) => LogicalOp::Or,
                Err(_) => return Err(OtsError::param("Deserialize composite filter failed.")),
            };
            let subs = c
                .sub_filters
                .iter()
                .map(|sub| decode_filter(&sub.encode_to_vec(), depth + 1))
                .collect::<OtsResult<Vec<_>>>()?;
            Ok(Filter::Composite { op, subs })
        }
        Ok(pb::FilterType::FtColumnPagination) => {
            let p = pb::ColumnPaginationFilter::decode(&f.filter[..])
                .map_err(|_| OtsError::param("Deserialize column pagination filter failed."))?;
            let offset = usize::try_from(p.offset).map_err(|_| {
                OtsError::param(
                    "Offset in ColumnPaginationFilter must be greater than or equal to 0.",
                )
            })?;
            let limit = usize::try_from(p.limit)
                .ok()
                .filter(|l| *l > 0)
                .ok_or_else(|| {
                    OtsError::param("Limit in ColumnPaginationFilter must be greater than 0.")
                })?;
            Ok(Filter::Pagination { offset, limit })
        }
        Err(_) => Err(OtsError::param(format!(
            "Invalid type of filter: {}.",
            f.r#type
        ))),
    }
}

/// Nesting depth past which a filter is rejected (a guard against hostile recursion).
const MAX_FILTER_DEPTH: usize = 16;

/// Decodes a serialized Filter (`None` or empty bytes: no filter) and checks its shape.
///
/// Errors: 400 OTSParameterInvalid when it does not decode or is malformed.
pub fn filter(bytes: Option<&[u8]>) -> OtsResult<Option<Filter>> {
    match bytes {
        None | Some([]) => Ok(None),
        Some(b) => {
            let f = decode_filter(b, 0)?;
            f.validate()?;
            Ok(Some(f))
        }
    }
}

/// What a write should return.
pub fn return_kind(rc: Option<&pb::ReturnContent>) -> OtsResult<ReturnKind> {
    let Some(rc) = rc else {
        return Ok(ReturnKind::None);
    };
    match rc.return_type.map(pb::ReturnType::try_from) {
        None | Some(Ok(pb::ReturnType::RtNone)) => Ok(ReturnKind::None),
        Some(Ok(pb::ReturnType::RtPk)) => Ok(ReturnKind::PrimaryKey),
        Some(Ok(pb::ReturnType::RtAfterModify)) => {
            Ok(ReturnKind::AfterModify(rc.return_column_names.clone()))
        }
        Some(Err(_)) => Err(OtsError::param(format!(
            "Invalid return type: {}.",
            rc.return_type.unwrap_or_default()
        ))),
    }
}

/// A read spec from the request's shared read fields.
pub fn read_spec(
    filter_bytes: Option<&[u8]>,
    columns_to_get: Vec<String>,
    time_range: Option<&pb::TimeRange>,
    max_versions: Option<i32>,
    start_column: Option<String>,
    end_column: Option<String>,
) -> OtsResult<ReadSpec> {
    let time_range = match time_range {
        None => None,
        Some(t) => match (t.specific_time, t.start_time, t.end_time) {
            (Some(ts), _, _) => Some(TimeRange::Specific(ts)),
            (None, Some(start_ms), Some(end_ms)) => Some(TimeRange::Range { start_ms, end_ms }),
            (None, None, None) => None,
            _ => {
                return Err(OtsError::param(
                    "Start and end time must be given at the same time.",
                ))
            }
        },
    };
    Ok(ReadSpec {
        filter: filter(filter_bytes)?,
        columns_to_get,
        max_versions,
        time_range,
        start_column,
        end_column,
    })
}

/// Protobuf ConsumedCapacity.
pub fn consumed(c: Consumed) -> pb::ConsumedCapacity {
    pb::ConsumedCapacity {
        capacity_unit: pb::CapacityUnit {
            read: Some(c.read),
            write: Some(c.write),
        },
        capacity_data_size: None,
    }
}

/// A stored primary key as a PlainBuffer primary-key-only row (header included), as
/// `next_start_primary_key` carries it.
pub fn encode_stored_pk(pk: &PrimaryKey) -> Vec<u8> {
    let mut encoder = RowsEncoder::with_capacity(64);
    encoder.push_parts(borrowed_pk(pk), std::iter::empty());
    encoder.finish()
}

/// A stored primary key as borrowed `(name, value)` pairs for the encoder.
fn borrowed_pk(pk: &PrimaryKey) -> impl Iterator<Item = (&str, PkValueRef<'_>)> {
    pk.iter().map(|(name, v)| (name.as_str(), pk_value_ref(v)))
}

/// A stored primary-key value borrowed for encoding.
fn pk_value_ref(v: &PkValue) -> PkValueRef<'_> {
    match v {
        PkValue::Integer(i) => PkValueRef::Integer(*i),
        PkValue::String(s) => PkValueRef::String(s),
        PkValue::Binary(b) => PkValueRef::Binary(b),
        PkValue::InfMin => PkValueRef::InfMin,
        PkValue::InfMax => PkValueRef::InfMax,
    }
}

/// Appends a read row to a response buffer: columns ascending, versions newest first, every
/// cell with its timestamp.
pub fn push_row(encoder: &mut RowsEncoder, row: &RowData) {
    let cells = row.columns.iter().flat_map(|c| {
        c.versions.iter().map(move |v| CellRef {
            name: &c.name,
            value: value_ref(&v.value),
            timestamp: Some(v.timestamp_ms),
        })
    });
    encoder.push_parts(borrowed_pk(&row.primary_key), cells);
}

/// Appends a lent read row to a response buffer, as `push_row`.
pub fn push_row_view(encoder: &mut RowsEncoder, row: &RowView<'_>) {
    let cells = row.cells.iter().map(|c| CellRef {
        name: c.name,
        value: value_view_ref(c.value),
        timestamp: Some(c.timestamp_ms),
    });
    let pk = row.primary_key.iter().map(|(n, v)| (*n, pk_value_ref(v)));
    encoder.push_parts(pk, cells);
}

/// One row as a response field (empty bytes for `None`).
pub fn encode_row(row: Option<&RowData>) -> Vec<u8> {
    let mut encoder = RowsEncoder::new();
    if let Some(row) = row {
        push_row(&mut encoder, row);
    }
    encoder.finish()
}

/// The engine direction of a GetRange request.
pub fn direction(d: i32) -> OtsResult<crate::engine::Direction> {
    match pb::Direction::try_from(d) {
        Ok(pb::Direction::Forward) => Ok(crate::engine::Direction::Forward),
        Ok(pb::Direction::Backward) => Ok(crate::engine::Direction::Backward),
        Err(_) => Err(OtsError::param(format!("Invalid direction: {d}."))),
    }
}

/// An OtsError as a protobuf Error (per-row errors in batch responses).
pub fn error(e: &OtsError) -> pb::Error {
    pb::Error {
        code: e.code.as_str().to_string(),
        message: Some(e.message.clone()),
        access_denied_detail: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::plainbuffer::{decode_row as pb_decode, Cell, Row};

    #[test]
    fn stored_pk_encodes_as_the_owned_wire_key_does() {
        let pk: PrimaryKey = vec![
            ("s".into(), PkValue::String("ab".into())),
            ("i".into(), PkValue::Integer(-7)),
            ("b".into(), PkValue::Binary(vec![0, 255])),
        ];
        let owned = vec![
            PrimaryKeyColumn::new("s", PrimaryKeyValue::String("ab".into())),
            PrimaryKeyColumn::new("i", PrimaryKeyValue::Integer(-7)),
            PrimaryKeyColumn::new("b", PrimaryKeyValue::Binary(vec![0, 255])),
        ];
        let encoded = encode_stored_pk(&pk);
        assert_eq!(encoded, plainbuffer::encode_primary_key(&owned));
        assert_eq!(pb_decode(&encoded).expect("decodes").primary_key, owned);
    }

    #[test]
    fn update_row_cells_map_to_changes_and_reject_bad_combinations() {
        let pk = vec![PrimaryKeyColumn::new(
            "pk",
            PrimaryKeyValue::String("a".into()),
        )];
        let row = Row {
            primary_key: pk.clone(),
            cells: vec![
                Cell::put("x", ColumnValue::Double(1.5), None),
                Cell {
                    name: "c".into(),
                    value: None,
                    op: Some(CellOp::DeleteOneVersion),
                    timestamp: Some(7),
                },
                Cell {
                    name: "d".into(),
                    value: None,
                    op: Some(CellOp::DeleteAllVersions),
                    timestamp: None,
                },
                Cell {
                    name: "n".into(),
                    value: Some(ColumnValue::Integer(2)),
                    op: Some(CellOp::Increment),
                    timestamp: None,
                },
            ],
            delete_marker: false,
        };
        let (key, changes) = update_row_parts(&plainbuffer::encode_row(&row)).unwrap();
        assert_eq!(
            key,
            vec![(
                "pk".to_string(),
                PkInput::Value(PkValue::String("a".into()))
            )]
        );
        assert_eq!(
            changes[1],
            ColumnChange::DeleteOneVersion {
                name: "c".into(),
                timestamp_ms: 7
            }
        );
        assert_eq!(
            changes[3],
            ColumnChange::Increment {
                name: "n".into(),
                delta: 2
            }
        );

        let bad = Row {
            primary_key: pk.clone(),
            cells: vec![Cell {
                name: "c".into(),
                value: None,
                op: Some(CellOp::DeleteOneVersion),
                timestamp: None,
            }],
            delete_marker: false,
        };
        let e = update_row_parts(&plainbuffer::encode_row(&bad)).unwrap_err();
        assert_eq!(
            e.message,
            "Timestamp must be given when type is DELETE_ONE_VERSION."
        );
        let put_with_op = Row {
            delete_marker: false,
            ..bad
        };
        assert!(put_row_parts(&plainbuffer::encode_row(&put_with_op)).is_err());
        let no_marker = Row {
            primary_key: pk,
            cells: vec![],
            delete_marker: false,
        };
        assert!(delete_row_key(&plainbuffer::encode_row(&no_marker)).is_err());
    }

    #[test]
    fn response_rows_carry_timestamps_newest_first() {
        use crate::table::row::{Column, Version};
        let row = RowData {
            primary_key: vec![("id".into(), PkValue::Integer(1))],
            columns: vec![Column {
                name: "a".into(),
                versions: vec![
                    Version {
                        timestamp_ms: 20,
                        value: Value::String("new".into()),
                    },
                    Version {
                        timestamp_ms: 10,
                        value: Value::String("old".into()),
                    },
                ],
            }],
        };
        let decoded = pb_decode(&encode_row(Some(&row))).unwrap();
        assert_eq!(decoded.cells.len(), 2);
        assert_eq!(decoded.cells[0].timestamp, Some(20));
        assert_eq!(
            decoded.cells[1].value,
            Some(ColumnValue::String("old".into()))
        );
        assert!(encode_row(None).is_empty());
    }
}
