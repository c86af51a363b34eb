//! Write conditions: the row existence expectation, checked under the row's lock together
//! with the write so no other writer can slip in between, then the column condition.

use crate::error::{OtsError, OtsResult};
use crate::table::filter::Filter;
use crate::table::row::RowData;

/// RowExistenceExpectation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RowExistence {
    /// Write regardless.
    #[default]
    Ignore,
    /// Fail unless the row exists.
    ExpectExist,
    /// Fail if the row exists.
    ExpectNotExist,
}

impl RowExistence {
    /// The wire name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            RowExistence::Ignore => "IGNORE",
            RowExistence::ExpectExist => "EXPECT_EXIST",
            RowExistence::ExpectNotExist => "EXPECT_NOT_EXIST",
        }
    }

    /// Whether the check needs to know if the row exists.
    pub fn needs_read(self) -> bool {
        self != RowExistence::Ignore
    }

    /// Checks the expectation against whether the row exists.
    ///
    /// Errors: 403 OTSConditionCheckFail "Condition check failed."
    pub fn check(self, exists: bool) -> OtsResult<()> {
        let ok = match self {
            RowExistence::Ignore => true,
            RowExistence::ExpectExist => exists,
            RowExistence::ExpectNotExist => !exists,
        };
        if ok {
            Ok(())
        } else {
            Err(OtsError::condition_failed())
        }
    }
}

/// Everything a conditional write must satisfy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Condition {
    /// The row existence expectation.
    pub row_existence: RowExistence,
    /// The column condition, evaluated against the stored row (`None`: no condition).
    pub column_condition: Option<Filter>,
}

impl Condition {
    /// Whether checking needs the stored row.
    pub fn needs_read(&self) -> bool {
        self.row_existence.needs_read() || self.column_condition.is_some()
    }

    /// Checks existence first, then the column condition, against the stored row.
    ///
    /// Errors: 403 OTSConditionCheckFail "Condition check failed."
    pub fn check(&self, row: Option<&RowData>) -> OtsResult<()> {
        self.row_existence.check(row.is_some())?;
        match &self.column_condition {
            Some(filter) if !filter.matches(row) => Err(OtsError::condition_failed()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn expectations_follow_the_truth_table() {
        assert!(RowExistence::Ignore.check(false).is_ok());
        assert!(RowExistence::Ignore.check(true).is_ok());
        assert!(RowExistence::ExpectExist.check(true).is_ok());
        assert!(RowExistence::ExpectNotExist.check(false).is_ok());
        let e = RowExistence::ExpectExist.check(false).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::ConditionCheckFail, "Condition check failed.")
        );
        assert!(RowExistence::ExpectNotExist.check(true).is_err());
    }
}
