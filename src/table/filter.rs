//! Column filters: the conditions of conditional writes and the `filter` of reads.
//! SingleColumnValue compares one column's newest (or any) version with a value;
//! Composite combines them with NOT/AND/OR; ColumnPagination pages a wide row's columns.

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
                candidates.iter().any(|v| {
                    v.value
                        .compare(target)
                        .is_some_and(|ord| comparator.accepts(ord))
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
}
