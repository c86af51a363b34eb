//! The edge error type: every failure a client can see, as Tablestore's error code, message
//! and HTTP status. Lower layers keep their own enums; the `From` conversions live here.

use std::fmt;

use crate::log_limit::{LogLimit, REPEAT_INTERVAL};

/// Tablestore error codes that otsd answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400: a request parameter is wrong.
    ParameterInvalid,
    /// 400: the primary key does not match the schema.
    InvalidPk,
    /// 403: authentication failed.
    AuthFailed,
    /// 403: a row existence or column condition failed.
    ConditionCheckFail,
    /// 403: a quota is used up.
    QuotaExhausted,
    /// 404: the table does not exist.
    ObjectNotExist,
    /// 405: only POST is served.
    MethodNotAllowed,
    /// 408: the request took too long to arrive.
    RequestTimeout,
    /// 409: the table already exists.
    ObjectAlreadyExist,
    /// 409: a row or transaction lock is held by someone else.
    RowOperationConflict,
    /// 413: the request body is larger than allowed.
    RequestBodyTooLarge,
    /// 500: an internal failure.
    InternalServerError,
    /// 503: the server is overloaded (write stall).
    ServerBusy,
    /// 503: the operation timed out inside the server.
    Timeout,
    /// 503: the server is out of a resource (disk space, file descriptors).
    ServerUnavailable,
}

impl ErrorCode {
    /// The code string sent in the Error protobuf.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ParameterInvalid => "OTSParameterInvalid",
            ErrorCode::InvalidPk => "OTSInvalidPK",
            ErrorCode::AuthFailed => "OTSAuthFailed",
            ErrorCode::ConditionCheckFail => "OTSConditionCheckFail",
            ErrorCode::QuotaExhausted => "OTSQuotaExhausted",
            ErrorCode::ObjectNotExist => "OTSObjectNotExist",
            ErrorCode::MethodNotAllowed => "OTSMethodNotAllowed",
            ErrorCode::RequestTimeout => "OTSRequestTimeout",
            ErrorCode::ObjectAlreadyExist => "OTSObjectAlreadyExist",
            ErrorCode::RowOperationConflict => "OTSRowOperationConflict",
            ErrorCode::RequestBodyTooLarge => "OTSRequestBodyTooLarge",
            ErrorCode::InternalServerError => "OTSInternalServerError",
            ErrorCode::ServerBusy => "OTSServerBusy",
            ErrorCode::Timeout => "OTSTimeout",
            ErrorCode::ServerUnavailable => "OTSServerUnavailable",
        }
    }

    /// Parses a code string (used by the client); `None` for codes otsd never sends.
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ALL_CODES.iter().copied().find(|c| c.as_str() == code)
    }

    /// The HTTP status this code is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::ParameterInvalid | ErrorCode::InvalidPk => 400,
            ErrorCode::AuthFailed | ErrorCode::ConditionCheckFail | ErrorCode::QuotaExhausted => {
                403
            }
            ErrorCode::ObjectNotExist => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::ObjectAlreadyExist | ErrorCode::RowOperationConflict => 409,
            ErrorCode::RequestBodyTooLarge => 413,
            ErrorCode::InternalServerError => 500,
            ErrorCode::ServerBusy | ErrorCode::Timeout | ErrorCode::ServerUnavailable => 503,
        }
    }

    /// Whether a client may retry any request that failed with this code.
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            ErrorCode::RowOperationConflict | ErrorCode::ServerBusy
        )
    }

    /// Whether a client may retry an idempotent (read) request that failed with this code.
    pub fn is_retriable_for_reads(self) -> bool {
        self.is_retriable()
            || matches!(
                self,
                ErrorCode::InternalServerError | ErrorCode::Timeout | ErrorCode::ServerUnavailable
            )
    }
}

const ALL_CODES: [ErrorCode; 15] = [
    ErrorCode::ParameterInvalid,
    ErrorCode::InvalidPk,
    ErrorCode::AuthFailed,
    ErrorCode::ConditionCheckFail,
    ErrorCode::QuotaExhausted,
    ErrorCode::ObjectNotExist,
    ErrorCode::MethodNotAllowed,
    ErrorCode::RequestTimeout,
    ErrorCode::ObjectAlreadyExist,
    ErrorCode::RowOperationConflict,
    ErrorCode::RequestBodyTooLarge,
    ErrorCode::InternalServerError,
    ErrorCode::ServerBusy,
    ErrorCode::Timeout,
    ErrorCode::ServerUnavailable,
];

/// A failure as the client sees it: code plus message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtsError {
    /// The Tablestore error code (decides the HTTP status).
    pub code: ErrorCode,
    /// The human-readable message, worded as Tablestore words it.
    pub message: String,
}

/// Result alias for the layers above the engine.
pub type OtsResult<T> = Result<T, OtsError>;

impl OtsError {
    /// 503 OTSServerUnavailable for a write refused because the disk is full: nothing of
    /// it was applied, and the server goes on once space is freed.
    pub fn disk_full() -> OtsError {
        OtsError::new(
            ErrorCode::ServerUnavailable,
            "The server is out of disk space; the write was not applied.",
        )
    }

    /// 503 OTSServerUnavailable when the process has no file descriptor left (a table
    /// cannot be opened): an operator's limit, named so it can be raised.
    pub fn out_of_descriptors() -> OtsError {
        OtsError::new(
            ErrorCode::ServerUnavailable,
            "The server has too many open files; raise its open file limit (ulimit -n).",
        )
    }

    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> OtsError {
        OtsError {
            code,
            message: message.into(),
        }
    }
    /// 400 OTSParameterInvalid.
    pub fn param(message: impl Into<String>) -> OtsError {
        OtsError::new(ErrorCode::ParameterInvalid, message)
    }
    /// 400 OTSInvalidPK.
    pub fn invalid_pk(message: impl Into<String>) -> OtsError {
        OtsError::new(ErrorCode::InvalidPk, message)
    }
    /// 403 OTSAuthFailed.
    pub fn auth(message: impl Into<String>) -> OtsError {
        OtsError::new(ErrorCode::AuthFailed, message)
    }
    /// 403 OTSConditionCheckFail "Condition check failed."
    pub fn condition_failed() -> OtsError {
        OtsError::new(ErrorCode::ConditionCheckFail, "Condition check failed.")
    }
    /// 404 OTSObjectNotExist "Requested table does not exist."
    pub fn table_not_exist() -> OtsError {
        OtsError::new(ErrorCode::ObjectNotExist, "Requested table does not exist.")
    }
    /// 409 OTSObjectAlreadyExist "Requested table already exists."
    pub fn table_exists() -> OtsError {
        OtsError::new(
            ErrorCode::ObjectAlreadyExist,
            "Requested table already exists.",
        )
    }
    /// 500 OTSInternalServerError "Internal server error."
    pub fn internal() -> OtsError {
        OtsError::new(ErrorCode::InternalServerError, "Internal server error.")
    }
    /// The HTTP status of this error.
    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }
}

impl fmt::Display for OtsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for OtsError {}

// Engine conditions that every request runs into while they last: logged once per interval
// (`held_back` counts the lines skipped), not once per request.
static STALLED_LOG: LogLimit = LogLimit::new(REPEAT_INTERVAL);
static DISK_FULL_LOG: LogLimit = LogLimit::new(REPEAT_INTERVAL);
static DESCRIPTORS_LOG: LogLimit = LogLimit::new(REPEAT_INTERVAL);
static ENGINE_FAILURE_LOG: LogLimit = LogLimit::new(REPEAT_INTERVAL);

impl From<crate::engine::Error> for OtsError {
    /// Engine failures are the server's fault: log the detail (file, offset), answer generically.
    fn from(err: crate::engine::Error) -> OtsError {
        use crate::engine::Error as E;
        match err {
            E::Stalled(what) => {
                if let Some(held_back) = STALLED_LOG.admit() {
                    tracing::warn!(%what, held_back, "write stalled");
                }
                OtsError::new(ErrorCode::ServerBusy, "Server is busy.")
            }
            E::InvalidArgument(what) => OtsError::param(what),
            // Not applied, and the server keeps running: say why instead of a bare 500.
            full if full.is_disk_full() => {
                if let Some(held_back) = DISK_FULL_LOG.admit() {
                    tracing::error!(error = %full, held_back, "write refused: disk full");
                }
                OtsError::disk_full()
            }
            short if short.is_out_of_descriptors() => {
                if let Some(held_back) = DESCRIPTORS_LOG.admit() {
                    tracing::error!(error = %short, held_back, "out of file descriptors");
                }
                OtsError::out_of_descriptors()
            }
            other => {
                if let Some(held_back) = ENGINE_FAILURE_LOG.admit() {
                    tracing::error!(error = %other, held_back, "engine failure");
                }
                OtsError::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_map_to_documented_statuses() {
        for code in ALL_CODES {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(OtsError::condition_failed().http_status(), 403);
        assert_eq!(OtsError::table_not_exist().http_status(), 404);
        assert_eq!(ErrorCode::RequestBodyTooLarge.http_status(), 413);
        assert!(ErrorCode::ServerBusy.is_retriable());
        assert!(!ErrorCode::ParameterInvalid.is_retriable());
    }

    #[test]
    fn running_out_of_disk_or_descriptors_is_503_and_other_engine_failures_500() {
        use crate::engine::Error as E;
        let io = |errno| E::io("/d/000001.wal", std::io::Error::from_raw_os_error(errno));
        let full = OtsError::from(io(libc::ENOSPC));
        assert_eq!(
            (full.code.as_str(), full.http_status()),
            ("OTSServerUnavailable", 503)
        );
        assert!(full.message.contains("out of disk space"), "{full}");
        assert_eq!(OtsError::from(io(libc::EDQUOT)).code, full.code);
        let short = OtsError::from(io(libc::EMFILE));
        assert_eq!(short.http_status(), 503);
        assert!(short.message.contains("open file limit"), "{short}");
        let broken = OtsError::from(io(libc::EIO));
        assert_eq!(
            (broken.http_status(), broken.message.as_str()),
            (500, "Internal server error.")
        );
        assert_eq!(OtsError::from(E::Poisoned).http_status(), 500);
    }
}
