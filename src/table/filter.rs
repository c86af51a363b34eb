//! Column filters: the conditions of conditional writes and the `filter` of reads.
//! SingleColumnValue compares one column's newest (or any) version with a value;
//! Composite combines them with NOT/AND/OR; ColumnPagination pages a wide row's columns.
//! A SingleColumnValue filter may carry a value transfer rule: a regex picks part of a
//! STRING value and a cast turns it into the value that is compared.

use std::cmp::Ordering;

use crate::error::{OtsError, OtsResult};
use crate::table::row::RowData;
use crate::table::value::Value;

/// Most single conditions in one filter (SEMANTICS §6).
pub const MAX_FILTER_CONDITIONS: usize = 10;

/// ComparatorType.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// ==
    Equal,
    /// !=
    NotEqual,
    /// >
    GreaterThan,
    /// >=
    GreaterEqual,
    /// <
    LessThan,
    /// <=
    LessEqual,
    /// The column is present (value ignored).
    Exist,
    /// The column is absent (value ignored).
    NotExist,
}

impl Comparator {
    fn accepts(self, ord: Ordering) -> bool {
        match self {
            Comparator::Equal => ord == Ordering::Equal,
            Comparator::NotEqual => ord != Ordering::Equal,
            Comparator::GreaterThan => ord == Ordering::Greater,
            Comparator::GreaterEqual => ord != Ordering::Less,
            Comparator::LessThan => ord == Ordering::Less,
            Comparator::LessEqual => ord != Ordering::Greater,
            Comparator::Exist | Comparator::NotExist => false,
        }
    }
}

/// LogicalOperator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicalOp {
    /// Exactly one sub-filter, negated.
    Not,
    /// All sub-filters.
    And,
    /// Any sub-filter.
    Or,
}

/// What a value transfer rule casts its match to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastType {
    /// Parsed as a 64-bit integer.
    Integer,
    /// Parsed as a double.
    Double,
    /// Kept as a string.
    String,
}

/// A ValueTransferRule: a regex and a cast that turn a STRING version into the compared value.
#[derive(Debug, Clone)]
pub struct ValueTransfer {
    regex: regex::Regex,
    cast: CastType,
}

/// Longest regex a transfer rule may carry, in bytes.
pub const MAX_REGEX_BYTES: usize = 256;

/// Most memory one compiled transfer regex may take; a pattern past it is refused, not run.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl ValueTransfer {
    /// Compiles a rule.
    ///
    /// Errors: 400 for an empty or over-long regex, or one that does not compile.
    pub fn new(regex: &str, cast: CastType) -> OtsResult<ValueTransfer> {
        if regex.is_empty() || regex.len() > MAX_REGEX_BYTES {
            return Err(OtsError::param(format!(
                "The length of regex must be in [1, {MAX_REGEX_BYTES}], but is {}.",
                regex.len()
            )));
        }
        let regex = regex::RegexBuilder::new(regex)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| OtsError::param(format!("Invalid regex '{regex}': {}.", why(&e))))?;
        Ok(ValueTransfer { regex, cast })
    }

    /// The value a stored version yields: the regex's first match (its first group when the
    /// regex has groups), cast. `None` when the version is not a STRING, the regex does not
    /// match, or the match does not cast; such a version satisfies no comparator.
    pub fn extract(&self, value: &Value) -> Option<Value> {
        let Value::String(text) = value else {
            return None;
        };
        let captures = self.regex.captures(text)?;
        let matched = match captures.len() {
            1 => captures.get(0),
            _ => captures.get(1),
        }?
        .as_str();
        match self.cast {
            CastType::Integer => matched.parse().ok().map(Value::Integer),
            CastType::Double => matched
                .parse::<f64>()
                .ok()
                .filter(|d| d.is_finite())
                .map(Value::Double),
            CastType::String => Some(Value::String(matched.to_string())),
        }
    }
}

/// The reason a pattern was refused, on one line: the regex crate's parse errors draw the
/// pattern with a caret over several lines before the reason.
fn why(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or_default();
    last.trim_start_matches("error: ")
        .trim_end_matches('.')
        .to_string()
}

impl PartialEq for ValueTransfer {
    fn eq(&self, other: &ValueTransfer) -> bool {
        self.regex.as_str() == other.regex.as_str() && self.cast == other.cast
    }
}

/// A decoded filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Compare one column with a value.
    Single {
        /// The column.
        column: String,
        /// How to compare.
        comparator: Comparator,
        /// The operand (ignored by Exist/NotExist).
        value: Option<Value>,
        /// Result when the column is missing.
        pass_if_missing: bool,
        /// Compare only the newest version (else: any version).
        latest_version_only: bool,
        /// Compare what this rule extracts from each version instead of the version itself.
        transfer: Option<ValueTransfer>,
    },
    /// Combine sub-filters.
    Composite {
        /// The operator.
        op: LogicalOp,
        /// The operands.
        subs: Vec<Filter>,
    },
    /// Return attribute columns `[offset, offset + limit)` in name order (reads only).
    Pagination {
        /// Columns skipped.
        offset: usize,
        /// Columns returned.
        limit: usize,
    },
}

impl Filter {
    /// Checks the shape: NOT has one operand, AND/OR at least two, no pagination inside a
    /// composite, at most 10 single conditions.
    pub fn validate(&self) -> OtsResult<()> {
        fn walk(f: &Filter, nested: bool, count: &mut usize) -> OtsResult<()> {
            match f {
                Filter::Single { .. } => *count += 1,
                Filter::Pagination { .. } if nested => {
                    return Err(OtsError::param(
                        "Invalid type of sub-filter: ColumnPaginationFilter.",
                    ));
                }
                Filter::Pagination { .. } => {}
                Filter::Composite { op, subs } => {
                    if *op == LogicalOp::Not && subs.len() != 1 {
                        return Err(OtsError::param(
                            "Invalid NOT operator: the number of sub-filters must be 1.",
                        ));
                    }
                    if *op != LogicalOp::Not && subs.len() < 2 {
                        return Err(OtsError::param(
                            "Invalid AND/OR operator: the number of sub-filters must be 2.",
                        ));
                    }
                    for s in subs {
                        walk(s, true, count)?;
                    }
                }
            }
            Ok(())
        }
        let mut count = 0;
        walk(self, false, &mut count)?;
        if count > MAX_FILTER_CONDITIONS {
            return Err(OtsError::param(format!(
                "The count of filter exceeds the max:{MAX_FILTER_CONDITIONS}."
            )));
        }
        Ok(())
    }

    /// True for a ColumnPaginationFilter (it pages columns instead of choosing rows).
    pub fn is_pagination(&self) -> bool {
        matches!(self, Filter::Pagination { .. })
    }

    /// Whether `row` (`None`: the row does not exist) passes the filter. Pagination passes.
    pub fn matches(&self, row: Option<&RowData>) -> bool {
        match self {
            Filter::Single {
                column,
                comparator,
                value,
                pass_if_missing,
                latest_version_only,
                transfer,
            } => {
                let versions = row
                    .and_then(|r| r.columns.iter().find(|c| c.name == *column))
                    .map(|c| &c.versions[..]);
                let versions = match versions {
                    Some(v) if !v.is_empty() => v,
                    _ => {
                        return *comparator == Comparator::NotExist
                            || (*comparator != Comparator::Exist && *pass_if_missing)
                    }
                };
                match comparator {
                    Comparator::Exist => return true,
                    Comparator::NotExist => return false,
                    _ => {}
                }
                let Some(target) = value else { return false };
                let candidates = if *latest_version_only {
                    &versions[..1]
                } else {
                    versions
                };
                let accepts = |value: &Value| {
                    value
                        .compare(target)
                        .is_some_and(|ord| comparator.accepts(ord))
                };
                candidates.iter().any(|v| match transfer {
                    Some(rule) => rule.extract(&v.value).is_some_and(|x| accepts(&x)),
                    None => accepts(&v.value),
                })
            }
            Filter::Composite { op, subs } => match op {
                LogicalOp::Not => !subs.iter().all(|s| s.matches(row)),
                LogicalOp::And => subs.iter().all(|s| s.matches(row)),
                LogicalOp::Or => subs.iter().any(|s| s.matches(row)),
            },
            Filter::Pagination { .. } => true,
        }
    }

    /// Applies the read side of the filter: `None` when the row is filtered out; the row's
    /// columns paged for a pagination filter.
    pub fn apply(&self, mut row: RowData) -> Option<RowData> {
        if let Filter::Pagination { offset, limit } = self {
            row.columns = row.columns.into_iter().skip(*offset).take(*limit).collect();
            return Some(row);
        }
        self.matches(Some(&row)).then_some(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::PkValue;
    use crate::table::row::{Column, Version};

    fn row(cols: &[(&str, &[Value])]) -> RowData {
        RowData {
            primary_key: vec![("k".into(), PkValue::Integer(1))],
            columns: cols
                .iter()
                .map(|(n, vs)| Column {
                    name: (*n).into(),
                    versions: vs
                        .iter()
                        .enumerate()
                        .map(|(i, v)| Version {
                            timestamp_ms: 100 - i as i64,
                            value: v.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    fn single(
        column: &str,
        comparator: Comparator,
        value: Value,
        pass_if_missing: bool,
        latest: bool,
    ) -> Filter {
        Filter::Single {
            column: column.into(),
            comparator,
            value: Some(value),
            pass_if_missing,
            latest_version_only: latest,
            transfer: None,
        }
    }

    #[test]
    fn single_conditions_compare_same_types_only() {
        let r = row(&[
            ("a", &[Value::Integer(5), Value::Integer(1)]),
            ("s", &[Value::String("hi".into())]),
        ]);
        assert!(single("a", Comparator::Equal, Value::Integer(5), true, true).matches(Some(&r)));
        assert!(!single("a", Comparator::Equal, Value::Integer(1), true, true).matches(Some(&r)));
        assert!(single("a", Comparator::Equal, Value::Integer(1), true, false).matches(Some(&r)));
        assert!(
            single("a", Comparator::GreaterThan, Value::Integer(4), true, true).matches(Some(&r))
        );
        assert!(!single(
            "a",
            Comparator::Equal,
            Value::String("5".into()),
            true,
            true
        )
        .matches(Some(&r)));
        assert!(
            !single("a", Comparator::NotEqual, Value::Double(5.0), true, true).matches(Some(&r))
        );
        assert!(single(
            "s",
            Comparator::LessThan,
            Value::String("hz".into()),
            true,
            true
        )
        .matches(Some(&r)));
    }

    #[test]
    fn missing_columns_follow_pass_if_missing_even_for_missing_rows() {
        let r = row(&[]);
        assert!(single("x", Comparator::Equal, Value::Integer(1), true, true).matches(Some(&r)));
        assert!(!single("x", Comparator::Equal, Value::Integer(1), false, true).matches(Some(&r)));
        assert!(single("x", Comparator::Equal, Value::Integer(1), true, true).matches(None));
        let exist = Filter::Single {
            column: "x".into(),
            comparator: Comparator::Exist,
            value: None,
            pass_if_missing: true,
            latest_version_only: true,
            transfer: None,
        };
        assert!(!exist.matches(Some(&r)));
    }

    #[test]
    fn composites_combine_and_validate_their_shape() {
        let r = row(&[("a", &[Value::Integer(5)])]);
        let yes = single("a", Comparator::Equal, Value::Integer(5), false, true);
        let no = single("a", Comparator::Equal, Value::Integer(6), false, true);
        let and = Filter::Composite {
            op: LogicalOp::And,
            subs: vec![yes.clone(), no.clone()],
        };
        let or = Filter::Composite {
            op: LogicalOp::Or,
            subs: vec![yes.clone(), no.clone()],
        };
        let not = Filter::Composite {
            op: LogicalOp::Not,
            subs: vec![no.clone()],
        };
        assert!(!and.matches(Some(&r)) && or.matches(Some(&r)) && not.matches(Some(&r)));
        assert!(Filter::Composite {
            op: LogicalOp::Not,
            subs: vec![yes.clone(), no]
        }
        .validate()
        .is_err());
        assert!(Filter::Composite {
            op: LogicalOp::And,
            subs: vec![yes.clone()]
        }
        .validate()
        .is_err());
        let many = Filter::Composite {
            op: LogicalOp::And,
            subs: vec![yes; 11],
        };
        assert!(many.validate().is_err());
    }

    #[test]
    fn pagination_pages_columns() {
        let r = row(&[
            ("a", &[Value::Integer(1)]),
            ("b", &[Value::Integer(2)]),
            ("c", &[Value::Integer(3)]),
        ]);
        let paged = Filter::Pagination {
            offset: 1,
            limit: 1,
        }
        .apply(r)
        .unwrap();
        assert_eq!(
            paged
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            vec!["b"]
        );
    }

    fn transfer(regex: &str, cast: CastType) -> ValueTransfer {
        ValueTransfer::new(regex, cast).unwrap()
    }

    #[test]
    fn transfer_rules_take_the_first_match_or_its_first_group_then_cast() {
        let text = Value::String("1aaa51bbb5".into());
        let whole = transfer("1[a-z]+5", CastType::String);
        assert_eq!(whole.extract(&text), Some(Value::String("1aaa5".into())));
        let group = transfer("1([a-z]+)5", CastType::String);
        assert_eq!(group.extract(&text), Some(Value::String("aaa".into())));
        let json = Value::String(r#"{"cluster":"c1","load":"42","ratio":"0.5"}"#.into());
        let load = transfer(r#""load":"(\d+)""#, CastType::Integer);
        assert_eq!(load.extract(&json), Some(Value::Integer(42)));
        let ratio = transfer(r#""ratio":"([0-9.]+)""#, CastType::Double);
        assert_eq!(ratio.extract(&json), Some(Value::Double(0.5)));
        // No match, a match that does not cast, and a value that is not a string yield nothing.
        assert_eq!(load.extract(&Value::String("{}".into())), None);
        assert_eq!(
            transfer(r#""cluster":"(\w+)""#, CastType::Integer).extract(&json),
            None
        );
        assert_eq!(
            transfer("[a-z]+", CastType::Integer).extract(&Value::String("abc".into())),
            None
        );
        assert_eq!(whole.extract(&Value::Integer(15)), None);
        // An optional group that took no part in the match yields nothing either.
        assert_eq!(
            transfer("a(x)?", CastType::String).extract(&Value::String("a".into())),
            None
        );
    }

    #[test]
    fn transfer_rules_refuse_empty_long_and_broken_patterns() {
        for bad in [
            "",
            "(",
            "[a-",
            "a{99999999}",
            "\\p{Nope}",
            &"(a{99}){99}".repeat(9),
        ] {
            let e = ValueTransfer::new(bad, CastType::String).unwrap_err();
            assert_eq!(e.code, crate::error::ErrorCode::ParameterInvalid, "{bad}");
            assert!(!e.message.contains('\n'), "{}", e.message);
        }
        let e = ValueTransfer::new("(", CastType::String).unwrap_err();
        assert_eq!(e.message, "Invalid regex '(': unclosed group.");
        let long = "a".repeat(MAX_REGEX_BYTES + 1);
        let e = ValueTransfer::new(&long, CastType::String).unwrap_err();
        assert_eq!(
            e.message,
            "The length of regex must be in [1, 256], but is 257."
        );
        assert!(ValueTransfer::new(&long[1..], CastType::String).is_ok());
    }

    #[test]
    fn a_transferred_filter_compares_the_extracted_value() {
        let r = row(&[(
            "doc",
            &[
                Value::String("load=90".into()),
                Value::String("load=10".into()),
            ],
        )]);
        let load = |comparator, value, latest| Filter::Single {
            column: "doc".into(),
            comparator,
            value: Some(Value::Integer(value)),
            pass_if_missing: false,
            latest_version_only: latest,
            transfer: Some(transfer("load=(\\d+)", CastType::Integer)),
        };
        assert!(load(Comparator::GreaterThan, 50, true).matches(Some(&r)));
        assert!(!load(Comparator::LessThan, 50, true).matches(Some(&r)));
        // Any version may satisfy it when not only the latest counts.
        assert!(load(Comparator::LessThan, 50, false).matches(Some(&r)));
        // Compared numerically, not as text: "90" > 100 would hold as strings.
        assert!(!load(Comparator::GreaterThan, 100, true).matches(Some(&r)));
        // A version the rule yields nothing for satisfies no comparator, NOT_EQUAL included.
        let other = row(&[("doc", &[Value::String("none".into())])]);
        assert!(!load(Comparator::NotEqual, 1, true).matches(Some(&other)));
        // A missing column still follows pass_if_missing.
        assert!(!load(Comparator::NotEqual, 1, true).matches(Some(&row(&[]))));
    }
}
