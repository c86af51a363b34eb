//! Errors of the client: a service answer (HTTP status + Tablestore code + message + request
//! id, decoded from the `Error` protobuf) or a failure on our side of the wire (connect, I/O,
//! timeout, response integrity, decoding). The retry policy classifies these; see `retry.rs`.

use std::time::Duration;

use crate::error::{ErrorCode, OtsError};
use crate::protocol::plainbuffer::DecodeError;

/// An error answer of the service: a non-2xx status whose body decoded as `Error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP {status} {code}: {message} (request id {})", request_id.as_deref().unwrap_or("-"))]
pub struct ServiceError {
    /// HTTP status of the response.
    pub status: u16,
    /// Tablestore error code string, e.g. `OTSObjectNotExist`.
    pub code: String,
    /// The service's message (empty if it sent none).
    pub message: String,
    /// `x-ots-requestid` of the response, if present.
    pub request_id: Option<String>,
}

impl ServiceError {
    /// The code as otsd's `ErrorCode`; `None` for codes otsd never sends (but the real
    /// service may, such as `OTSPartitionUnavailable`).
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.code)
    }

    /// The answer as the server-side `OtsError` (code and message), if otsd knows the code.
    pub fn to_ots_error(&self) -> Option<OtsError> {
        self.error_code()
            .map(|code| OtsError::new(code, self.message.clone()))
    }
}

/// Everything a client call can fail with. Each variant names the API it happened on.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service answered with an `Error` protobuf.
    #[error("{api}: {error}")]
    Service {
        /// API name, e.g. `GetRow`.
        api: String,
        /// The decoded answer.
        error: ServiceError,
    },
    /// A non-2xx answer whose body is not an `Error` protobuf (a proxy, a crash).
    #[error("{api}: HTTP {status} with an undecodable error body of {body_len} bytes")]
    HttpStatus {
        /// API name.
        api: String,
        /// HTTP status.
        status: u16,
        /// Length of the body that failed to decode.
        body_len: usize,
    },
    /// No connection could be made: the request never left, so any API may retry it.
    #[error("{api}: cannot connect: {detail}")]
    Connect {
        /// API name.
        api: String,
        /// The connector's error chain.
        detail: String,
    },
    /// The connection failed after the request may have been sent.
    #[error("{api}: network error: {detail}")]
    Network {
        /// API name.
        api: String,
        /// The transport's error chain.
        detail: String,
    },
    /// No complete response within the per-attempt timeout.
    #[error("{api}: no response within {timeout:?}")]
    Timeout {
        /// API name.
        api: String,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// The response body does not match its `x-ots-contentmd5`.
    #[error("{api}: response body does not match x-ots-contentmd5")]
    ResponseMd5Mismatch {
        /// API name.
        api: String,
    },
    /// The response `Authorization` does not sign its `x-ots-*` headers under our key.
    #[error("{api}: response signature mismatch")]
    ResponseSignatureMismatch {
        /// API name.
        api: String,
    },
    /// A 2xx body that is not the expected protobuf message.
    #[error("{api}: cannot decode response: {what}")]
    Decode {
        /// API name.
        api: String,
        /// prost's description.
        what: String,
    },
    /// A PlainBuffer row in a response that does not decode.
    #[error("{api}: cannot decode {field}: {source}")]
    PlainBuffer {
        /// API name.
        api: String,
        /// The protobuf field that held the row(s).
        field: &'static str,
        /// Where and why decoding stopped.
        source: DecodeError,
    },
    /// The client was configured with something unusable (bad endpoint).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl ClientError {
    /// The service answer, if this error is one.
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            ClientError::Service { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The Tablestore error code string, if the service answered with one.
    pub fn code(&self) -> Option<&str> {
        self.service().map(|e| e.code.as_str())
    }

    /// The code as otsd's `ErrorCode`, if the service answered with a code otsd knows.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.service().and_then(ServiceError::error_code)
    }

    /// The HTTP status, if a response arrived.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ClientError::Service { error, .. } => Some(error.status),
            ClientError::HttpStatus { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The request id of the failed response, if the service sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.service().and_then(|e| e.request_id.as_deref())
    }

    /// Whether this is the service saying the table (or row's table) does not exist.
    pub fn is_object_not_exist(&self) -> bool {
        self.error_code() == Some(ErrorCode::ObjectNotExist)
    }

    /// Whether this is the service saying the table already exists.
    pub fn is_object_already_exist(&self) -> bool {
        self.error_code() == Some(ErrorCode::ObjectAlreadyExist)
    }

    /// Whether this is a failed row existence or column condition.
    pub fn is_condition_check_fail(&self) -> bool {
        self.error_code() == Some(ErrorCode::ConditionCheckFail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_exist() -> ClientError {
        ClientError::Service {
            api: "GetRow".to_string(),
            error: ServiceError {
                status: 404,
                code: "OTSObjectNotExist".to_string(),
                message: "Requested table does not exist.".to_string(),
                request_id: Some("rid-7".to_string()),
            },
        }
    }

    #[test]
    fn service_error_exposes_code_status_and_request_id() {
        let err = not_exist();
        assert_eq!(err.code(), Some("OTSObjectNotExist"));
        assert_eq!(err.error_code(), Some(ErrorCode::ObjectNotExist));
        assert_eq!(err.http_status(), Some(404));
        assert_eq!(err.request_id(), Some("rid-7"));
        assert!(err.is_object_not_exist());
        assert_eq!(
            err.service().and_then(ServiceError::to_ots_error),
            Some(OtsError::table_not_exist())
        );
        assert!(!err.is_condition_check_fail());
        assert_eq!(
            err.to_string(),
            "GetRow: HTTP 404 OTSObjectNotExist: Requested table does not exist. \
             (request id rid-7)"
        );
    }

    #[test]
    fn unknown_codes_keep_their_string_but_have_no_error_code() {
        let err = ServiceError {
            status: 503,
            code: "OTSPartitionUnavailable".to_string(),
            message: String::new(),
            request_id: None,
        };
        assert_eq!(err.error_code(), None);
        assert!(err.to_string().contains("request id -"));
    }

    #[test]
    fn transport_errors_have_no_code_or_status() {
        let err = ClientError::Timeout {
            api: "PutRow".to_string(),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(err.code(), None);
        assert_eq!(err.http_status(), None);
        assert_eq!(err.request_id(), None);
    }
}
