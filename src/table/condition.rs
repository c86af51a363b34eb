//! Write conditions: the row existence expectation, checked under the row's lock together
//! with the write so no other writer can slip in between. (Column conditions slot in here.)

use crate::error::{OtsError, OtsResult};

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    /// The row existence expectation.
    pub row_existence: RowExistence,
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
