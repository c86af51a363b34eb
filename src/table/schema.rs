//! Table schemas: primary-key columns, defined columns, TableOptions and reserved throughput,
//! with the CreateTable/UpdateTable checks and the primary-key check every row op runs.
//! Wire decoding lives in `api/`; persistence of these types lives in `catalog`.

use serde::{Deserialize, Serialize};

use crate::engine::PkValue;
use crate::error::{OtsError, OtsResult};
use crate::table::limits;

/// Type of a primary-key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PkType {
    /// Signed 64-bit integer.
    Integer,
    /// UTF-8 string.
    String,
    /// Raw bytes.
    Binary,
}

impl PkType {
    /// The type name as Tablestore's messages spell it.
    pub fn name(self) -> &'static str {
        match self {
            PkType::Integer => "INTEGER",
            PkType::String => "STRING",
            PkType::Binary => "BINARY",
        }
    }
}

/// One primary-key column of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PkColumnSchema {
    /// Column name.
    pub name: String,
    /// Column type.
    pub pk_type: PkType,
    /// Whether the server generates this column's value (AUTO_INCREMENT).
    pub auto_increment: bool,
}

/// Type of a predefined (defined) attribute column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DefinedColumnType {
    /// DCT_INTEGER.
    Integer,
    /// DCT_DOUBLE.
    Double,
    /// DCT_BOOLEAN.
    Boolean,
    /// DCT_STRING.
    String,
    /// DCT_BLOB.
    Blob,
}

/// One predefined attribute column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinedColumnSchema {
    /// Column name.
    pub name: String,
    /// Declared type.
    pub column_type: DefinedColumnType,
}

/// The table's data options (TableOptions on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableOptions {
    /// Seconds a version lives; -1 = forever.
    pub time_to_live_secs: i32,
    /// Versions kept per column.
    pub max_versions: i32,
    /// Largest allowed distance between a written version and the server clock, in seconds.
    pub deviation_cell_version_in_sec: i64,
    /// Whether UpdateRow is allowed.
    pub allow_update: bool,
}

impl Default for TableOptions {
    /// Tablestore's defaults for omitted options: (-1, 1, 86400), updates allowed.
    fn default() -> Self {
        TableOptions {
            time_to_live_secs: -1,
            max_versions: 1,
            deviation_cell_version_in_sec: 86400,
            allow_update: true,
        }
    }
}

/// Options given in a CreateTable/UpdateTable request; `None` = not given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableOptionsPatch {
    /// time_to_live.
    pub time_to_live_secs: Option<i32>,
    /// max_versions.
    pub max_versions: Option<i32>,
    /// deviation_cell_version_in_sec.
    pub deviation_cell_version_in_sec: Option<i64>,
    /// allow_update.
    pub allow_update: Option<bool>,
}

impl TableOptionsPatch {
    /// True when no option is set.
    pub fn is_empty(&self) -> bool {
        *self == TableOptionsPatch::default()
    }
}

impl TableOptions {
    /// `self` with every given option of `patch` applied and checked.
    ///
    /// Errors: 400 OTSParameterInvalid for a TTL of 0, below -1 or under one day, a
    /// max_versions below 1, or a negative deviation.
    pub fn apply(&self, patch: &TableOptionsPatch) -> OtsResult<TableOptions> {
        let mut out = *self;
        if let Some(ttl) = patch.time_to_live_secs {
            if ttl == 0 || ttl < -1 {
                return Err(OtsError::param("TimeToLive cannot be 0 or less than -1."));
            }
            if ttl != -1 && ttl < limits::MIN_TIME_TO_LIVE_SECS {
                return Err(OtsError::param(format!(
                    "TimeToLive must be -1 or at least {} seconds.",
                    limits::MIN_TIME_TO_LIVE_SECS
                )));
            }
            out.time_to_live_secs = ttl;
        }
        if let Some(max_versions) = patch.max_versions {
            if max_versions <= 0 {
                return Err(OtsError::param(
                    "The maximum versions cannot be less than or equal to 0.",
                ));
            }
            out.max_versions = max_versions;
        }
        if let Some(deviation) = patch.deviation_cell_version_in_sec {
            if !(0..=i64::MAX / 1_000_000).contains(&deviation) {
                return Err(OtsError::param(
                    "The maximum deviation must be in range [0, INT64_MAX/1000000].",
                ));
            }
            out.deviation_cell_version_in_sec = deviation;
        }
        if let Some(allow_update) = patch.allow_update {
            out.allow_update = allow_update;
        }
        Ok(out)
    }

    /// The engine's view of these options.
    pub fn data_options(&self) -> crate::engine::DataOptions {
        crate::engine::DataOptions {
            ttl_secs: (self.time_to_live_secs > 0).then_some(i64::from(self.time_to_live_secs)),
            max_versions: u32::try_from(self.max_versions).unwrap_or(1).max(1),
        }
    }
}

/// Reserved read/write capacity units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityUnits {
    /// Read CU.
    pub read: i32,
    /// Write CU.
    pub write: i32,
}

/// Checks reserved throughput values (0..=100000 each).
pub fn validate_reserved(cu: &CapacityUnits) -> OtsResult<()> {
    for value in [cu.read, cu.write] {
        if value < 0 {
            return Err(OtsError::param(format!(
                "Invalid Capacity Unit:{value}. Capacity Unit must be nonnegative."
            )));
        }
        if value > limits::MAX_RESERVED_CU {
            return Err(OtsError::param(format!(
                "Invalid Capacity Unit:{value}. Capacity Unit must be at most {}.",
                limits::MAX_RESERVED_CU
            )));
        }
    }
    Ok(())
}

/// A table's structure: name, primary key and defined columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Table name.
    pub table_name: String,
    /// Primary-key columns in order; the first is the partition key.
    pub primary_key: Vec<PkColumnSchema>,
    /// Predefined attribute columns.
    pub defined_columns: Vec<DefinedColumnSchema>,
}

/// Whether `name` is a valid table or column name: 1-255 bytes of `[A-Za-z0-9_]`, not
/// starting with a digit.
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.first() {
        Some(first) if first.is_ascii_alphabetic() || *first == b'_' => {}
        _ => return false,
    }
    bytes.len() <= limits::MAX_NAME_BYTES
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Checks a table name (400 "Invalid table name: '<name>'.").
pub fn validate_table_name(name: &str) -> OtsResult<()> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(OtsError::param(format!("Invalid table name: '{name}'.")))
    }
}

/// Checks a column name (400 "Invalid column name: '<name>'.").
pub fn validate_column_name(name: &str) -> OtsResult<()> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(OtsError::param(format!("Invalid column name: '{name}'.")))
    }
}

impl TableSchema {
    /// Checks the whole schema as CreateTable receives it.
    ///
    /// Errors (400 OTSParameterInvalid): bad names, 0 or more than 4 PK columns, duplicate PK
    /// names, misplaced or non-INTEGER AUTO_INCREMENT, more than one AUTO_INCREMENT, more than 32
    /// defined columns or a defined column named like a PK column.
    pub fn validate(&self) -> OtsResult<()> {
        validate_table_name(&self.table_name)?;
        let pk = &self.primary_key;
        if pk.is_empty() || pk.len() > limits::MAX_PK_COLUMNS {
            return Err(OtsError::param(format!(
                "The number of primary key columns must be in range: [1, {}].",
                limits::MAX_PK_COLUMNS
            )));
        }
        for (i, col) in pk.iter().enumerate() {
            validate_column_name(&col.name)?;
            if pk[..i].iter().any(|c| c.name == col.name) {
                return Err(OtsError::param(format!(
                    "Duplicated primary key name: '{}'.",
                    col.name
                )));
            }
        }
        let auto: Vec<(usize, &PkColumnSchema)> = pk
            .iter()
            .enumerate()
            .filter(|(_, c)| c.auto_increment)
            .collect();
        if auto.len() > 1 {
            return Err(OtsError::param(
                "AUTO_INCREMENT primary key count must <= 1.",
            ));
        }
        if let Some((index, col)) = auto.first() {
            if col.pk_type != PkType::Integer {
                return Err(OtsError::param(
                    "AUTO_INCREMENT primary key must be integer.",
                ));
            }
            if *index == 0 {
                return Err(OtsError::param(format!(
                    "First primary key can't be auto increment, table: {}.",
                    self.table_name
                )));
            }
        }
        if self.defined_columns.len() > limits::MAX_DEFINED_COLUMNS {
            return Err(OtsError::param(format!(
                "The number of defined columns must be in range: [0, {}].",
                limits::MAX_DEFINED_COLUMNS
            )));
        }
        for (i, col) in self.defined_columns.iter().enumerate() {
            validate_column_name(&col.name)?;
            if pk.iter().any(|p| p.name == col.name) {
                return Err(OtsError::param(format!(
                    "Duplicated attribute column name with primary key column: {}.",
                    col.name
                )));
            }
            if self.defined_columns[..i].iter().any(|c| c.name == col.name) {
                return Err(OtsError::param(format!(
                    "Duplicated defined column name: '{}'.",
                    col.name
                )));
            }
        }
        Ok(())
    }

    /// Index of the AUTO_INCREMENT column, if the table has one.
    pub fn auto_increment_index(&self) -> Option<usize> {
        self.primary_key.iter().position(|c| c.auto_increment)
    }

    /// Whether `name` is one of the primary-key columns.
    pub fn is_pk_column(&self, name: &str) -> bool {
        self.primary_key.iter().any(|c| c.name == name)
    }
}

/// A primary-key value as a request gives it: a value, a range placeholder or the
/// AUTO_INCREMENT placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkInput {
    /// A concrete value or INF_MIN/INF_MAX.
    Value(PkValue),
    /// VT_AUTO_INCREMENT: the server chooses the value.
    AutoIncrement,
}

/// A primary key as a request gives it: names with values or placeholders, in wire order.
pub type RequestKey = Vec<(String, PkInput)>;

/// What a row operation may put into a primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkUse {
    /// GetRow, DeleteRow, UpdateRow of an existing row: concrete values only.
    Exact,
    /// PutRow / UpdateRow: concrete values, AUTO_INCREMENT on the auto-increment column.
    Write,
    /// GetRange bounds: concrete values or INF_MIN/INF_MAX.
    RangeBound,
}

fn pk_input_type(value: &PkInput) -> &'static str {
    match value {
        PkInput::Value(PkValue::Integer(_)) => "INTEGER",
        PkInput::Value(PkValue::String(_)) => "STRING",
        PkInput::Value(PkValue::Binary(_)) => "BINARY",
        PkInput::Value(PkValue::InfMin) => "INF_MIN",
        PkInput::Value(PkValue::InfMax) => "INF_MAX",
        PkInput::AutoIncrement => "AUTO_INCREMENT",
    }
}

/// Checks a request's primary key against the schema: count, then per column name, then type,
/// then placeholders and value sizes.
///
/// Errors: 400 OTSInvalidPK for count/name/type mismatches; 400 OTSParameterInvalid for INF
/// placeholders outside ranges, misplaced AUTO_INCREMENT and oversized values.
pub fn validate_pk(schema: &TableSchema, pk: &[(String, PkInput)], usage: PkUse) -> OtsResult<()> {
    let meta = &schema.primary_key;
    if pk.len() != meta.len() {
        return Err(OtsError::invalid_pk(format!(
            "Validate PK size fail. Input: {}, Meta: {}.",
            pk.len(),
            meta.len()
        )));
    }
    for ((name, value), col) in pk.iter().zip(meta) {
        if *name != col.name {
            return Err(OtsError::invalid_pk(format!(
                "Validate PK name fail. Input: {name}, Meta: {}.",
                col.name
            )));
        }
        let type_ok = match value {
            PkInput::Value(PkValue::Integer(_)) => col.pk_type == PkType::Integer,
            PkInput::Value(PkValue::String(_)) => col.pk_type == PkType::String,
            PkInput::Value(PkValue::Binary(_)) => col.pk_type == PkType::Binary,
            PkInput::Value(PkValue::InfMin | PkValue::InfMax) | PkInput::AutoIncrement => true,
        };
        if !type_ok {
            return Err(OtsError::invalid_pk(format!(
                "Validate PK type fail. Input: {}, Meta: {}.",
                pk_input_type(value),
                col.pk_type.name()
            )));
        }
        match value {
            // The service answers INF placeholders in single-row ops with 400
            // OTSParameterInvalid "VT_INF_MIN is an invalid type for the primary key."
            // (Java SDK functional tests).
            PkInput::Value(PkValue::InfMin | PkValue::InfMax) if usage != PkUse::RangeBound => {
                return Err(OtsError::param(format!(
                    "VT_{} is an invalid type for the primary key.",
                    pk_input_type(value)
                )));
            }
            PkInput::AutoIncrement if usage != PkUse::Write => {
                return Err(OtsError::param(
                    "PKAutoIncr can't be used for read operations.",
                ));
            }
            PkInput::AutoIncrement if !col.auto_increment => {
                return Err(OtsError::param(format!(
                    "Column {} is not an auto increment primary key.",
                    col.name
                )));
            }
            PkInput::Value(PkValue::String(s)) => limits::check_pk_value_len(name, s.len())?,
            PkInput::Value(PkValue::Binary(b)) => limits::check_pk_value_len(name, b.len())?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn col(name: &str, pk_type: PkType) -> PkColumnSchema {
        PkColumnSchema {
            name: name.into(),
            pk_type,
            auto_increment: false,
        }
    }

    fn schema(cols: Vec<PkColumnSchema>) -> TableSchema {
        TableSchema {
            table_name: "t".into(),
            primary_key: cols,
            defined_columns: vec![],
        }
    }

    #[test]
    fn names_follow_the_documented_charset() {
        for ok in ["a", "_x", "A9_b", &"a".repeat(255)] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "9a", "a-b", "a b", "é", &"a".repeat(256)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert_eq!(
            validate_table_name("1t").unwrap_err().message,
            "Invalid table name: '1t'."
        );
    }

    #[test]
    fn schema_checks_count_duplicates_and_auto_increment() {
        assert!(schema(vec![col("a", PkType::String)]).validate().is_ok());
        let e = schema(vec![]).validate().unwrap_err();
        assert_eq!(
            e.message,
            "The number of primary key columns must be in range: [1, 4]."
        );
        let five = (0..5)
            .map(|i| col(&format!("p{i}"), PkType::Integer))
            .collect();
        assert!(schema(five).validate().is_err());
        let e = schema(vec![
            col("PK0", PkType::String),
            col("PK0", PkType::Integer),
        ])
        .validate()
        .unwrap_err();
        assert_eq!(e.message, "Duplicated primary key name: 'PK0'.");

        let mut first_auto = col("a", PkType::Integer);
        first_auto.auto_increment = true;
        assert!(schema(vec![first_auto.clone()]).validate().is_err());
        let mut string_auto = col("b", PkType::String);
        string_auto.auto_increment = true;
        let e = schema(vec![col("a", PkType::String), string_auto])
            .validate()
            .unwrap_err();
        assert_eq!(e.message, "AUTO_INCREMENT primary key must be integer.");
        let mut auto_b = col("b", PkType::Integer);
        auto_b.auto_increment = true;
        let ok = schema(vec![col("a", PkType::String), auto_b.clone()]);
        assert!(ok.validate().is_ok());
        assert_eq!(ok.auto_increment_index(), Some(1));
        let mut auto_c = auto_b.clone();
        auto_c.name = "c".into();
        assert!(schema(vec![col("a", PkType::String), auto_b, auto_c])
            .validate()
            .is_err());
    }

    #[test]
    fn options_default_and_reject_bad_values() {
        let d = TableOptions::default();
        assert_eq!(
            (
                d.time_to_live_secs,
                d.max_versions,
                d.deviation_cell_version_in_sec
            ),
            (-1, 1, 86400)
        );
        let patched = d
            .apply(&TableOptionsPatch {
                max_versions: Some(3),
                time_to_live_secs: Some(86402),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            (patched.time_to_live_secs, patched.max_versions),
            (86402, 3)
        );
        for ttl in [0, -2, 100] {
            let patch = TableOptionsPatch {
                time_to_live_secs: Some(ttl),
                ..Default::default()
            };
            assert_eq!(
                d.apply(&patch).unwrap_err().code,
                ErrorCode::ParameterInvalid
            );
        }
        let patch = TableOptionsPatch {
            max_versions: Some(0),
            ..Default::default()
        };
        assert!(d.apply(&patch).is_err());
        assert_eq!(patched.data_options().ttl_secs, Some(86402));
        assert_eq!(d.data_options().ttl_secs, None);
    }

    #[test]
    fn pk_validation_reports_size_name_then_type() {
        let s = schema(vec![
            col("PK0", PkType::String),
            col("PK1", PkType::Integer),
        ]);
        let v = |x: PkValue| PkInput::Value(x);
        let one = vec![("PK0".to_string(), v(PkValue::String("a".into())))];
        let e = validate_pk(&s, &one, PkUse::Exact).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                ErrorCode::InvalidPk,
                "Validate PK size fail. Input: 1, Meta: 2."
            )
        );
        let swapped = vec![
            ("PK1".to_string(), v(PkValue::Integer(1))),
            ("PK0".to_string(), v(PkValue::String("a".into()))),
        ];
        let e = validate_pk(&s, &swapped, PkUse::Exact).unwrap_err();
        assert_eq!(e.message, "Validate PK name fail. Input: PK1, Meta: PK0.");
        let wrong_type = vec![
            ("PK0".to_string(), v(PkValue::Integer(1))),
            ("PK1".to_string(), v(PkValue::Integer(1))),
        ];
        let e = validate_pk(&s, &wrong_type, PkUse::Exact).unwrap_err();
        assert_eq!(
            e.message,
            "Validate PK type fail. Input: INTEGER, Meta: STRING."
        );
        let inf = vec![
            ("PK0".to_string(), v(PkValue::InfMin)),
            ("PK1".to_string(), v(PkValue::InfMax)),
        ];
        let e = validate_pk(&s, &inf, PkUse::Exact).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                ErrorCode::ParameterInvalid,
                "VT_INF_MIN is an invalid type for the primary key."
            )
        );
        assert!(validate_pk(&s, &inf, PkUse::RangeBound).is_ok());
        let auto = vec![
            ("PK0".to_string(), v(PkValue::String("a".into()))),
            ("PK1".to_string(), PkInput::AutoIncrement),
        ];
        assert_eq!(
            validate_pk(&s, &auto, PkUse::Write).unwrap_err().code,
            ErrorCode::ParameterInvalid
        );
        let long = vec![
            ("PK0".to_string(), v(PkValue::String("x".repeat(1025)))),
            ("PK1".to_string(), v(PkValue::Integer(1))),
        ];
        assert_eq!(
            validate_pk(&s, &long, PkUse::Exact).unwrap_err().code,
            ErrorCode::ParameterInvalid
        );
    }
}
