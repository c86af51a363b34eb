//! When and how long the client waits before trying a failed request again: which errors are
//! retriable for which APIs (the rules of PROTOCOL.md §5.1, read through `ErrorCode`), and an
//! exponential backoff with jitter bounded by attempts and total time.

use std::time::Duration;

use rand::Rng;

use super::error::ClientError;
use crate::error::ErrorCode;

/// APIs that change nothing, so any transient failure may be retried (the SDKs' list).
const READ_APIS: [&str; 8] = [
    "ListTable",
    "DescribeTable",
    "GetRow",
    "BatchGetRow",
    "GetRange",
    "ComputeSplitPointsBySize",
    "ListStream",
    "DescribeStream",
];

/// Codes otsd never sends but the real service does, retriable for every API.
const EXTRA_RETRIABLE_CODES: [&str; 5] = [
    "OTSNotEnoughCapacityUnit",
    "OTSTableNotReady",
    "OTSPartitionUnavailable",
    "OTSOperationConflict",
    "OTSOperationThrottled",
];

/// Codes otsd never sends but the real service does, retriable for read APIs.
const EXTRA_READ_RETRIABLE_CODES: [&str; 1] = ["OTSServerUnavailable"];

/// Codes that mean "slow down": their backoff starts from the larger base.
const THROTTLING_CODES: [&str; 4] = [
    "OTSServerBusy",
    "OTSNotEnoughCapacityUnit",
    "OTSOperationThrottled",
    "OTSQuotaExhausted",
];

/// The message with which the service throttles table DDL (retriable despite its code).
const TOO_FREQUENT_TABLE_OPERATIONS: &str = "Too frequent table operations.";

/// Which base a retry's backoff grows from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackoffKind {
    /// A transient failure: network, timeout, conflict, internal error.
    Transient,
    /// The server asked us to slow down (busy, throttled, quota).
    Throttled,
}

/// Bounds and shape of the retry loop. The first attempt counts towards `max_attempts`;
/// a retry is skipped when its delay would end past `max_elapsed` from the first attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first; 1 disables retries.
    pub max_attempts: u32,
    /// No retry starts later than this after the first attempt started.
    pub max_elapsed: Duration,
    /// First delay of a transient failure, doubled per retry.
    pub base_delay: Duration,
    /// First delay after a throttling answer, doubled per retry.
    pub throttled_base_delay: Duration,
    /// Upper bound of one delay before jitter.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 10 attempts within 30 s; delays from 50 ms (transient) or 200 ms (throttled), doubling
    /// up to 2 s. Smaller than the SDKs' 200/500 ms bases: otsd is usually on the same host.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            max_elapsed: Duration::from_secs(30),
            base_delay: Duration::from_millis(50),
            throttled_base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The delay before retry number `retry` (0 for the first retry): the kind's base times
    /// 2^retry, capped at `max_delay`, then scaled into [50 %, 100 %] by `jitter` in [0, 1]
    /// ("equal jitter": never less than half, so retries keep backing off).
    pub fn delay(&self, retry: u32, kind: BackoffKind, jitter: f64) -> Duration {
        let base = match kind {
            BackoffKind::Transient => self.base_delay,
            BackoffKind::Throttled => self.throttled_base_delay,
        };
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        let grown = base.saturating_mul(factor).min(self.max_delay);
        grown.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// Whether and how long to wait after `err` from `api`, given that `attempts` attempts
    /// were made so far and `elapsed` passed since the first began. `None`: give up.
    pub fn next_delay(
        &self,
        api: &str,
        err: &ClientError,
        attempts: u32,
        elapsed: Duration,
    ) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let kind = retry_kind(api, err)?;
        let delay = self.delay(
            attempts.saturating_sub(1),
            kind,
            rand::thread_rng().gen::<f64>(),
        );
        if elapsed.saturating_add(delay) > self.max_elapsed {
            return None;
        }
        Some(delay)
    }
}

/// Whether `api` only reads, so that retrying it after an unknown outcome is harmless.
pub fn is_read_api(api: &str) -> bool {
    READ_APIS.contains(&api)
}

/// How `err` from `api` may be retried; `None` when it must not be.
///
/// Any API: codes `ErrorCode::is_retriable` says so of (plus the real service's transient
/// codes and "Too frequent table operations."), and connect failures (nothing was sent).
/// Read APIs also: `ErrorCode::is_retriable_for_reads` codes, undecodable 5xx answers,
/// network errors, timeouts and corrupted responses.
pub fn retry_kind(api: &str, err: &ClientError) -> Option<BackoffKind> {
    let read = is_read_api(api);
    match err {
        ClientError::Service { error, .. } => {
            let code = error.code.as_str();
            let known = error.error_code();
            let retriable = known.is_some_and(ErrorCode::is_retriable)
                || EXTRA_RETRIABLE_CODES.contains(&code)
                || (code == "OTSQuotaExhausted" && error.message == TOO_FREQUENT_TABLE_OPERATIONS)
                || (read
                    && (known.is_some_and(ErrorCode::is_retriable_for_reads)
                        || EXTRA_READ_RETRIABLE_CODES.contains(&code)));
            if !retriable {
                return None;
            }
            if THROTTLING_CODES.contains(&code) {
                Some(BackoffKind::Throttled)
            } else {
                Some(BackoffKind::Transient)
            }
        }
        ClientError::Connect { .. } => Some(BackoffKind::Transient),
        ClientError::HttpStatus { status, .. } => {
            (read && matches!(status, 500 | 502 | 503)).then_some(BackoffKind::Transient)
        }
        ClientError::Network { .. }
        | ClientError::Timeout { .. }
        | ClientError::ResponseMd5Mismatch { .. } => read.then_some(BackoffKind::Transient),
        ClientError::ResponseSignatureMismatch { .. }
        | ClientError::Decode { .. }
        | ClientError::PlainBuffer { .. }
        | ClientError::Config(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::error::ServiceError;

    fn service(api: &str, status: u16, code: &str, message: &str) -> ClientError {
        ClientError::Service {
            api: api.to_string(),
            error: ServiceError {
                status,
                code: code.to_string(),
                message: message.to_string(),
                request_id: None,
            },
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let p = RetryPolicy::default();
        let full: Vec<Duration> = (0..8)
            .map(|r| p.delay(r, BackoffKind::Transient, 1.0))
            .collect();
        assert_eq!(
            full,
            [
                ms(50),
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1600),
                ms(2000),
                ms(2000)
            ]
        );
        assert_eq!(p.delay(0, BackoffKind::Throttled, 1.0), ms(200));
        assert_eq!(p.delay(3, BackoffKind::Throttled, 1.0), ms(1600));
        // Huge retry numbers neither overflow nor exceed the cap.
        assert_eq!(p.delay(u32::MAX, BackoffKind::Transient, 1.0), ms(2000));
    }

    #[test]
    fn jitter_scales_each_delay_into_its_upper_half() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(2, BackoffKind::Transient, 0.0), ms(100));
        assert_eq!(p.delay(2, BackoffKind::Transient, 0.5), ms(150));
        // Out-of-range jitter is clamped rather than trusted.
        assert_eq!(p.delay(2, BackoffKind::Transient, 7.0), ms(200));
        for _ in 0..100 {
            let d = p
                .next_delay(
                    "GetRow",
                    &service("GetRow", 503, "OTSServerBusy", ""),
                    2,
                    ms(0),
                )
                .expect("busy is retriable");
            // Second retry of a throttling code: 400 ms before jitter.
            assert!((ms(200)..=ms(400)).contains(&d), "{d:?}");
        }
    }

    #[test]
    fn attempts_and_total_time_bound_the_retries() {
        let p = RetryPolicy {
            max_attempts: 3,
            max_elapsed: ms(1000),
            ..RetryPolicy::default()
        };
        let busy = service("PutRow", 503, "OTSServerBusy", "");
        assert!(p.next_delay("PutRow", &busy, 1, ms(0)).is_some());
        assert!(p.next_delay("PutRow", &busy, 2, ms(0)).is_some());
        assert!(p.next_delay("PutRow", &busy, 3, ms(0)).is_none());
        // A delay that would end past max_elapsed is not started.
        assert!(p.next_delay("PutRow", &busy, 1, ms(900)).is_none());
        assert!(RetryPolicy::none()
            .next_delay("PutRow", &busy, 1, ms(0))
            .is_none());
    }

    #[test]
    fn non_retriable_codes_are_never_retried() {
        for (status, code) in [
            (400, "OTSParameterInvalid"),
            (403, "OTSAuthFailed"),
            (403, "OTSConditionCheckFail"),
            (404, "OTSObjectNotExist"),
            (409, "OTSObjectAlreadyExist"),
            (413, "OTSRequestBodyTooLarge"),
        ] {
            for api in ["GetRow", "PutRow"] {
                assert_eq!(
                    retry_kind(api, &service(api, status, code, "")),
                    None,
                    "{code}"
                );
            }
        }
    }

    #[test]
    fn conflicts_and_busy_retry_everywhere_internal_errors_only_for_reads() {
        let conflict = service("PutRow", 409, "OTSRowOperationConflict", "");
        assert_eq!(
            retry_kind("PutRow", &conflict),
            Some(BackoffKind::Transient)
        );
        let busy = service("PutRow", 503, "OTSServerBusy", "");
        assert_eq!(retry_kind("PutRow", &busy), Some(BackoffKind::Throttled));
        let internal = service("x", 500, "OTSInternalServerError", "");
        assert_eq!(retry_kind("PutRow", &internal), None);
        assert_eq!(
            retry_kind("GetRange", &internal),
            Some(BackoffKind::Transient)
        );
        let timeout = service("x", 503, "OTSTimeout", "");
        assert_eq!(retry_kind("BatchWriteRow", &timeout), None);
        assert!(retry_kind("BatchGetRow", &timeout).is_some());
        let unavailable = service("x", 503, "OTSPartitionUnavailable", "");
        assert!(retry_kind("UpdateRow", &unavailable).is_some());
    }

    #[test]
    fn quota_exhausted_retries_only_for_too_frequent_table_operations() {
        let ddl = service(
            "CreateTable",
            403,
            "OTSQuotaExhausted",
            TOO_FREQUENT_TABLE_OPERATIONS,
        );
        assert_eq!(
            retry_kind("CreateTable", &ddl),
            Some(BackoffKind::Throttled)
        );
        let other = service("PutRow", 403, "OTSQuotaExhausted", "Too many tables.");
        assert_eq!(retry_kind("PutRow", &other), None);
    }

    #[test]
    fn transport_failures_retry_for_reads_and_connects_for_all() {
        let api = |s: &str| s.to_string();
        let network = ClientError::Network {
            api: api("PutRow"),
            detail: String::new(),
        };
        assert_eq!(retry_kind("PutRow", &network), None);
        assert!(retry_kind("GetRow", &network).is_some());
        let connect = ClientError::Connect {
            api: api("PutRow"),
            detail: String::new(),
        };
        assert!(retry_kind("PutRow", &connect).is_some());
        let timeout = ClientError::Timeout {
            api: api("DeleteRow"),
            timeout: ms(1),
        };
        assert_eq!(retry_kind("DeleteRow", &timeout), None);
        assert!(retry_kind("DescribeTable", &timeout).is_some());
        let bad_gateway = ClientError::HttpStatus {
            api: api("GetRange"),
            status: 502,
            body_len: 3,
        };
        assert!(retry_kind("GetRange", &bad_gateway).is_some());
        assert_eq!(retry_kind("PutRow", &bad_gateway), None);
        let decode = ClientError::Decode {
            api: api("GetRow"),
            what: String::new(),
        };
        assert_eq!(retry_kind("GetRow", &decode), None);
    }
}
