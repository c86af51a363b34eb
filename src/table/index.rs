//! Secondary indexes: what an index is (kept in its base table's meta), where its rows live
//! and which index row a base row makes.
//!
//! Index rows live in the base table's own engine, in a key space after every base row:
//!
//! ```text
//! index row key := INDEX_SPACE ‖ id: u32 BE ‖ row key of (index key columns, base key columns not listed)
//! ```
//!
//! Base row keys start with a primary-key type tag below `INDEX_SPACE`, so base scans stop
//! at `[INDEX_SPACE]` and never meet an index row. Sharing the engine is what keeps an index
//! exact: a base write and the index changes it causes commit as one atomic batch, so no
//! crash can leave them apart. Ids are never reused, so rows a crash leaves behind in the
//! key space of an index that was being created or dropped stay unreachable.

use serde::{Deserialize, Serialize};

use crate::engine::batch::BatchOp;
use crate::engine::{self, key, PkValue, WriteBatch};
use crate::error::{OtsError, OtsResult};
use crate::table::row::PrimaryKey;
use crate::table::schema::{
    is_valid_name, DefinedColumnSchema, DefinedColumnType, PkColumnSchema, PkType, TableOptions,
    TableSchema,
};
use crate::table::value::Value;

/// First byte of every index row key (base keys start with 0x02..=0x04).
pub const INDEX_SPACE: u8 = 0x05;

/// Secondary indexes one table may have.
pub const MAX_INDEXES_PER_TABLE: usize = 5;

/// Columns a user may list as an index's key.
pub const MAX_INDEX_KEY_COLUMNS: usize = 4;

/// Covered (attribute) columns of one index.
pub const MAX_INDEX_COVERED_COLUMNS: usize = 32;

/// Largest STRING or BINARY value an index key column takes; a longer one is not indexed.
pub const MAX_INDEX_KEY_VALUE_BYTES: usize = 1024;

/// Global (any key) or local (keyed first by the base table's partition key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexKind {
    /// IT_GLOBAL_INDEX.
    Global,
    /// IT_LOCAL_INDEX.
    Local,
}

/// One secondary index, as its base table's meta keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexMeta {
    /// Index name: unique among the instance's tables and indexes.
    pub name: String,
    /// Key columns as the user listed them (base key or defined columns).
    pub primary_key: Vec<String>,
    /// Covered defined columns, copied into each index row.
    pub defined_columns: Vec<String>,
    /// Global or local.
    pub kind: IndexKind,
    /// Key-space number inside the base table's engine.
    pub id: u32,
}

/// An index as the writes of its table use it: its meta and the index table's schema,
/// resolved once against the table's current schema (defined columns added since the table
/// was created included).
#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    /// What the index is.
    pub meta: IndexMeta,
    /// The index table's schema (see `IndexMeta::schema`).
    pub schema: TableSchema,
}

/// One index row: its full engine key and the covered cells (name, version, stored value).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    key: Vec<u8>,
    cells: Vec<(Vec<u8>, i64, Vec<u8>)>,
}

/// The key-space prefix of index `id`.
pub fn key_prefix(id: u32) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(5);
    prefix.push(INDEX_SPACE);
    prefix.extend_from_slice(&id.to_be_bytes());
    prefix
}

/// Where base rows end: every base row key sorts below it, every index row key above.
pub fn base_space_end() -> Vec<u8> {
    vec![INDEX_SPACE]
}

fn invalid(message: String) -> OtsError {
    OtsError::param(message)
}

/// Checks that `options` let a table have indexes: one version per column, and data that
/// either never expires or is never updated (so an index row never outlives its base row).
///
/// Errors: 400 OTSParameterInvalid.
pub fn check_base_options(options: &TableOptions) -> OtsResult<()> {
    if options.max_versions != 1 {
        return Err(invalid(
            "A table with secondary indexes must have max_versions 1.".into(),
        ));
    }
    if options.time_to_live_secs != -1 && options.allow_update {
        return Err(invalid(
            "A table with secondary indexes must have time_to_live -1, or allow_update false."
                .into(),
        ));
    }
    Ok(())
}

fn key_type(column: &DefinedColumnSchema) -> Option<PkType> {
    match column.column_type {
        DefinedColumnType::Integer => Some(PkType::Integer),
        DefinedColumnType::String => Some(PkType::String),
        DefinedColumnType::Blob => Some(PkType::Binary),
        DefinedColumnType::Double | DefinedColumnType::Boolean => None,
    }
}

impl IndexMeta {
    /// The key-space prefix of this index's rows.
    pub fn key_prefix(&self) -> Vec<u8> {
        key_prefix(self.id)
    }

    /// Checks this index against its base table's schema and its other indexes.
    ///
    /// Errors: 400 OTSParameterInvalid for a bad name, key or covered column, too many
    /// columns or indexes, a local index not keyed first by the partition key, or a name
    /// another index of the table has.
    pub fn validate(&self, base: &TableSchema, others: &[IndexMeta]) -> OtsResult<()> {
        if !is_valid_name(&self.name) {
            return Err(invalid(format!("Invalid index name: '{}'.", self.name)));
        }
        if others.len() >= MAX_INDEXES_PER_TABLE {
            return Err(invalid(format!(
                "A table can have at most {MAX_INDEXES_PER_TABLE} secondary indexes."
            )));
        }
        if others.iter().any(|o| o.name == self.name) {
            return Err(OtsError::table_exists());
        }
        if self.primary_key.is_empty() || self.primary_key.len() > MAX_INDEX_KEY_COLUMNS {
            return Err(invalid(format!(
                "An index must list 1 to {MAX_INDEX_KEY_COLUMNS} primary key columns."
            )));
        }
        if self.defined_columns.len() > MAX_INDEX_COVERED_COLUMNS {
            return Err(invalid(format!(
                "An index can cover at most {MAX_INDEX_COVERED_COLUMNS} defined columns."
            )));
        }
        let listed = self.primary_key.iter().chain(&self.defined_columns);
        for (i, name) in listed.clone().enumerate() {
            if listed.clone().take(i).any(|earlier| earlier == name) {
                return Err(invalid(format!(
                    "Column '{name}' appears twice in index '{}'.",
                    self.name
                )));
            }
        }
        for name in &self.primary_key {
            if base.is_pk_column(name) {
                continue;
            }
            match base.defined_columns.iter().find(|c| c.name == *name) {
                Some(c) if key_type(c).is_some() => {}
                Some(_) => {
                    return Err(invalid(format!(
                        "Index primary key column '{name}' must be STRING, INTEGER or BINARY."
                    )))
                }
                None => {
                    return Err(invalid(format!(
                        "Index primary key column '{name}' is neither a primary key column \
                         nor a defined column of table '{}'.",
                        base.table_name
                    )))
                }
            }
        }
        for name in &self.defined_columns {
            if !base.defined_columns.iter().any(|c| c.name == *name) {
                return Err(invalid(format!(
                    "Index column '{name}' is not a defined column of table '{}'.",
                    base.table_name
                )));
            }
        }
        let partition_key = base.primary_key.first().map(|c| c.name.as_str());
        if self.kind == IndexKind::Local
            && self.primary_key.first().map(String::as_str) != partition_key
        {
            return Err(invalid(format!(
                "The first primary key column of local index '{}' must be the table's partition key.",
                self.name
            )));
        }
        Ok(())
    }

    /// The index table's schema: the listed key columns, then the base key columns not
    /// listed (which make each index row unique); covered columns as defined columns.
    pub fn schema(&self, base: &TableSchema) -> TableSchema {
        let column = |name: &String| -> PkColumnSchema {
            if let Some(c) = base.primary_key.iter().find(|c| c.name == *name) {
                return PkColumnSchema {
                    auto_increment: false,
                    ..c.clone()
                };
            }
            let pk_type = base
                .defined_columns
                .iter()
                .find(|c| c.name == *name)
                .and_then(key_type)
                .unwrap_or(PkType::String);
            PkColumnSchema {
                name: name.clone(),
                pk_type,
                auto_increment: false,
            }
        };
        let mut primary_key: Vec<PkColumnSchema> = self.primary_key.iter().map(column).collect();
        for c in &base.primary_key {
            if !self.primary_key.contains(&c.name) {
                primary_key.push(column(&c.name));
            }
        }
        let defined_columns = self
            .defined_columns
            .iter()
            .filter_map(|name| base.defined_columns.iter().find(|c| c.name == *name))
            .cloned()
            .collect();
        TableSchema {
            table_name: self.name.clone(),
            primary_key,
            defined_columns,
        }
    }
}

impl Index {
    /// `meta` resolved against `base`, its table's current schema.
    pub fn new(meta: IndexMeta, base: &TableSchema) -> Index {
        let schema = meta.schema(base);
        Index { meta, schema }
    }

    /// Every base attribute column this index reads.
    pub fn attribute_columns<'a>(&'a self, base: &'a TableSchema) -> impl Iterator<Item = &'a str> {
        self.meta
            .primary_key
            .iter()
            .filter(|name| !base.is_pk_column(name))
            .chain(&self.meta.defined_columns)
            .map(String::as_str)
    }

    /// Whether `ops` (a base row's changes) replace the row or change a column this index
    /// reads.
    fn touched_by(&self, base: &TableSchema, ops: &[BatchOp]) -> bool {
        ops.iter().any(|op| match op {
            BatchOp::DeleteRow { .. } | BatchOp::PutRowMarker { .. } => true,
            BatchOp::Put { column, .. }
            | BatchOp::DeleteVersion { column, .. }
            | BatchOp::DeleteColumn { column, .. } => self
                .attribute_columns(base)
                .any(|name| name.as_bytes() == column.as_slice()),
        })
    }

    /// The index row of a base row (`pk` and its newest cells, `row`); `None` when the row
    /// is absent or lacks a key column (or holds one of the wrong type or too long).
    pub fn row_of(&self, pk: &PrimaryKey, row: Option<&engine::Row>) -> Option<IndexRow> {
        let row = row?;
        let latest = |name: &str| -> Option<(i64, &[u8])> {
            let column = row.columns.iter().find(|c| c.name == name.as_bytes())?;
            let cell = column.cells.first()?;
            Some((cell.version_ms, cell.value.as_slice()))
        };
        let mut values = Vec::with_capacity(self.schema.primary_key.len());
        for column in &self.schema.primary_key {
            if let Some((_, v)) = pk.iter().find(|(n, _)| *n == column.name) {
                values.push(v.clone());
                continue;
            }
            let (_, stored) = latest(&column.name)?;
            values.push(key_value(column.pk_type, stored)?);
        }
        let mut key = self.meta.key_prefix();
        key.extend(key::encode_row_key(&values));
        let cells = self
            .meta
            .defined_columns
            .iter()
            .filter_map(|name| {
                let (version, value) = latest(name)?;
                Some((name.as_bytes().to_vec(), version, value.to_vec()))
            })
            .collect();
        Some(IndexRow { key, cells })
    }
}

/// A stored attribute value as an index key value of `pk_type`, if it is one.
fn key_value(pk_type: PkType, stored: &[u8]) -> Option<PkValue> {
    let fits = |len: usize| len <= MAX_INDEX_KEY_VALUE_BYTES;
    match (pk_type, Value::decode(stored).ok()?) {
        (PkType::Integer, Value::Integer(i)) => Some(PkValue::Integer(i)),
        (PkType::String, Value::String(s)) if fits(s.len()) => Some(PkValue::String(s)),
        (PkType::Binary, Value::Binary(b)) if fits(b.len()) => Some(PkValue::Binary(b)),
        _ => None,
    }
}

/// Appends to `batch` (which holds the base row's own changes) what turns every index's
/// row for the base row `pk` from what `before` makes into what `after` makes. An index the
/// write does not touch and whose row stays the same is left alone; one it touches gets its
/// row written again even if unchanged, as the service's index sync would (so a row written
/// after an index was created without base data is indexed).
pub fn stage_changes(
    indexes: &[Index],
    base: &TableSchema,
    pk: &PrimaryKey,
    before: Option<&engine::Row>,
    after: Option<&engine::Row>,
    batch: &mut WriteBatch,
) {
    let touched: Vec<bool> = indexes
        .iter()
        .map(|index| index.touched_by(base, batch.ops()))
        .collect();
    for (index, touched) in indexes.iter().zip(touched) {
        let old = index.row_of(pk, before);
        let new = index.row_of(pk, after);
        if old == new && !touched {
            continue;
        }
        if let Some(old) = &old {
            if new.as_ref().is_none_or(|n| n.key != old.key) {
                batch.delete_row(&old.key);
            }
        }
        if let Some(new) = new {
            write_row(&new, batch);
        }
    }
}

/// Appends the writes that make `row` the whole index row at its key.
pub fn write_row(row: &IndexRow, batch: &mut WriteBatch) {
    if row.cells.is_empty() {
        batch.put_row_marker(&row.key, None);
        return;
    }
    batch.delete_row(&row.key);
    for (name, version, value) in &row.cells {
        batch.put(&row.key, name, Some(*version), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> TableSchema {
        TableSchema {
            table_name: "t".into(),
            primary_key: vec![
                PkColumnSchema {
                    name: "a".into(),
                    pk_type: PkType::String,
                    auto_increment: false,
                },
                PkColumnSchema {
                    name: "b".into(),
                    pk_type: PkType::Integer,
                    auto_increment: false,
                },
            ],
            defined_columns: vec![
                DefinedColumnSchema {
                    name: "c".into(),
                    column_type: DefinedColumnType::Integer,
                },
                DefinedColumnSchema {
                    name: "d".into(),
                    column_type: DefinedColumnType::Double,
                },
            ],
        }
    }

    fn index(pk: &[&str], covered: &[&str]) -> IndexMeta {
        IndexMeta {
            name: "i".into(),
            primary_key: pk.iter().map(|s| s.to_string()).collect(),
            defined_columns: covered.iter().map(|s| s.to_string()).collect(),
            kind: IndexKind::Global,
            id: 7,
        }
    }

    fn row(cells: &[(&str, i64, Value)]) -> engine::Row {
        engine::Row {
            exists_unlisted: false,
            key: Vec::new(),
            columns: cells
                .iter()
                .map(|(name, version, value)| engine::Column {
                    name: name.as_bytes().to_vec(),
                    cells: vec![engine::Cell {
                        version_ms: *version,
                        value: value.encode(),
                    }],
                })
                .collect(),
        }
    }

    fn pk() -> PrimaryKey {
        vec![
            ("a".into(), PkValue::String("x".into())),
            ("b".into(), PkValue::Integer(2)),
        ]
    }

    #[test]
    fn the_index_key_lists_the_user_columns_then_the_missing_base_key() {
        let schema = index(&["c", "b"], &["d"]).schema(&base());
        let names: Vec<_> = schema.primary_key.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["c", "b", "a"]);
        assert_eq!(schema.primary_key[0].pk_type, PkType::Integer);
        assert_eq!(schema.defined_columns.len(), 1);
    }

    #[test]
    fn bad_indexes_are_refused_with_a_reason() {
        let b = base();
        let cases = [
            (index(&[], &[]), "1 to 4"),
            (index(&["zz"], &[]), "neither"),
            (index(&["d"], &[]), "STRING, INTEGER or BINARY"),
            (index(&["c"], &["zz"]), "not a defined column"),
            (index(&["c", "c"], &[]), "twice"),
        ];
        for (meta, why) in cases {
            let e = meta.validate(&b, &[]).unwrap_err();
            assert!(e.message.contains(why), "{}: {}", why, e.message);
        }
        let local = IndexMeta {
            kind: IndexKind::Local,
            ..index(&["c"], &[])
        };
        assert!(local.validate(&b, &[]).is_err());
        let local = IndexMeta {
            kind: IndexKind::Local,
            ..index(&["a", "c"], &[])
        };
        local.validate(&b, &[]).unwrap();
        let full: Vec<IndexMeta> = (0..5)
            .map(|i| IndexMeta {
                name: format!("i{i}"),
                ..index(&["c"], &[])
            })
            .collect();
        assert!(index(&["c"], &[]).validate(&b, &full).is_err());
    }

    #[test]
    fn a_row_without_a_key_column_or_with_the_wrong_type_is_not_indexed() {
        let i = Index::new(index(&["c"], &["d"]), &base());
        assert!(i.row_of(&pk(), None).is_none());
        assert!(i
            .row_of(&pk(), Some(&row(&[("d", 1, Value::Double(1.5))])))
            .is_none());
        let wrong = row(&[("c", 1, Value::String("no".into()))]);
        assert!(i.row_of(&pk(), Some(&wrong)).is_none());
        let good = row(&[("c", 5, Value::Integer(9)), ("d", 6, Value::Double(1.5))]);
        let r = i.row_of(&pk(), Some(&good)).unwrap();
        let mut expected = key_prefix(7);
        // The listed column, then the base key in base order.
        expected.extend(key::encode_row_key(&[
            PkValue::Integer(9),
            PkValue::String("x".into()),
            PkValue::Integer(2),
        ]));
        assert_eq!(r.key, expected);
        assert_eq!(
            r.cells,
            vec![(b"d".to_vec(), 6, Value::Double(1.5).encode())]
        );
    }

    #[test]
    fn a_changed_key_deletes_the_old_index_row_and_an_unchanged_row_writes_nothing() {
        let (b, i) = (base(), Index::new(index(&["c"], &[]), &base()));
        let before = row(&[("c", 1, Value::Integer(1))]);
        let after = row(&[("c", 2, Value::Integer(2))]);
        let mut batch = WriteBatch::new();
        stage_changes(
            std::slice::from_ref(&i),
            &b,
            &pk(),
            Some(&before),
            Some(&before),
            &mut batch,
        );
        assert!(batch.is_empty());
        stage_changes(
            std::slice::from_ref(&i),
            &b,
            &pk(),
            Some(&before),
            Some(&after),
            &mut batch,
        );
        let old = i.row_of(&pk(), Some(&before)).unwrap();
        let new = i.row_of(&pk(), Some(&after)).unwrap();
        let rows: Vec<&[u8]> = batch.ops().iter().map(|op| op.row()).collect();
        assert_eq!(rows, [old.key.as_slice(), new.key.as_slice()]);
        let mut gone = WriteBatch::new();
        stage_changes(
            std::slice::from_ref(&i),
            &b,
            &pk(),
            Some(&after),
            None,
            &mut gone,
        );
        assert_eq!(gone.len(), 1);
    }

    #[test]
    fn index_keys_sort_after_every_base_key() {
        let base_key = key::encode_row_key(&[PkValue::InfMax]);
        let real_base = key::encode_row_key(&[PkValue::Binary(vec![0xff; 8])]);
        assert!(real_base < base_space_end());
        assert!(base_space_end() < key_prefix(0));
        assert!(
            base_key > key_prefix(u32::MAX),
            "INF_MAX bounds are clamped by the table"
        );
    }
}
