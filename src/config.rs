//! Defaults and limits of the server in one place: listen address, data directory, access
//! keys, request body cap, date skew, API version, connection cap, read timeouts, shutdown
//! drain time and connection worker threads.
//! The CLI fills a `ServerConfig` from flags; tests build one directly.

use std::collections::HashMap;
use std::time::Duration;

/// Default listen address: loopback only, so a fresh start is never exposed to the network.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8800";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./otsd-data";
/// Default access key id (a local dev server: the keys are a formality, not a secret).
pub const DEFAULT_ACCESS_KEY_ID: &str = "otsd";
/// Default access key secret.
pub const DEFAULT_ACCESS_KEY_SECRET: &str = "otsd-secret";
/// Largest accepted request body: Tablestore documents 5 MB per request.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// Largest accepted difference between `x-ots-date` and the server clock; the SDKs apply
/// the same 15 minutes to the dates of responses.
pub const MAX_DATE_SKEW: Duration = Duration::from_secs(15 * 60);
/// Open connections served at once; further clients wait in the listen backlog. Above the
/// SDK pools (Python 500, Node 300) so a single busy client is never starved.
pub const MAX_CONNECTIONS: usize = 1024;
/// Longest time a request body may take to arrive once its head is in (408 after it), so a
/// stalled client cannot hold a connection slot forever. Below the SDKs' socket timeouts
/// (Python 50 s), so they see the 408 rather than their own timeout.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest time a connection may go without a complete request head: a client idle on a
/// keep-alive connection, or one trickling its headers, loses its connection after this, so
/// idle or stalled clients cannot fill `MAX_CONNECTIONS` for good. Above the 20 s our client
/// keeps idle connections; the SDK pools notice a closed idle connection and reconnect.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// How long shutdown waits for in-flight requests before flushing and exiting anyway.
pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(30);
/// Connection workers per core by default. With one per core, each worker ran above its fair
/// share of a core shared with co-located clients (wrk, the SDK tests, `otsd bench`), so every
/// reply that woke a client thread handed it the core at once: 0.18-0.26 involuntary context
/// switches per GetRow against 0.01-0.04 with two per core, and about 30% more GetRow
/// requests/s under wrk on the 2-core bench machine. PutRow, fan-out and 20-row pages did not
/// move beyond the run-to-run noise.
pub const WORKERS_PER_CORE: usize = 2;

/// Everything the HTTP layer needs to know besides the catalog.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Access key id -> access key secret.
    pub access_keys: HashMap<String, String>,
    /// Request bodies above this size are answered with 413.
    pub max_body_bytes: usize,
    /// Largest accepted `x-ots-date` skew; `None` disables the check (tests of old dates).
    pub max_date_skew: Option<Duration>,
    /// Longest time a request body may take to arrive.
    pub body_read_timeout: Duration,
    /// Longest time a connection may wait for a complete request head (idle included).
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Longest wait for in-flight requests on shutdown.
    pub shutdown_drain: Duration,
    /// Threads serving connections; 0 means `WORKERS_PER_CORE` per core.
    pub connection_workers: usize,
}

impl ServerConfig {
    /// A config with one access key pair and the default limits.
    pub fn with_key(
        access_key_id: impl Into<String>,
        access_key_secret: impl Into<String>,
    ) -> Self {
        let mut access_keys = HashMap::new();
        access_keys.insert(access_key_id.into(), access_key_secret.into());
        ServerConfig {
            access_keys,
            max_body_bytes: MAX_BODY_BYTES,
            max_date_skew: Some(MAX_DATE_SKEW),
            body_read_timeout: BODY_READ_TIMEOUT,
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            shutdown_drain: SHUTDOWN_DRAIN,
            connection_workers: 0,
        }
    }

    /// The number of connection worker threads: `connection_workers`, or
    /// `WORKERS_PER_CORE` per core.
    pub fn worker_count(&self) -> usize {
        match self.connection_workers {
            0 => WORKERS_PER_CORE * std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }

    /// The secret of `access_key_id`, if that key is configured.
    pub fn secret_of(&self, access_key_id: &str) -> Option<&str> {
        self.access_keys.get(access_key_id).map(String::as_str)
    }

    /// The configured id and secret of `access_key_id`, borrowed from the configuration.
    pub fn key_pair(&self, access_key_id: &str) -> Option<(&str, &str)> {
        self.access_keys
            .get_key_value(access_key_id)
            .map(|(id, secret)| (id.as_str(), secret.as_str()))
    }
}

impl Default for ServerConfig {
    /// The default key pair (`otsd` / `otsd-secret`) and the default limits.
    fn default() -> Self {
        ServerConfig::with_key(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_knows_only_the_default_key_and_caps_bodies_at_5_mib() {
        let cfg = ServerConfig::default();
        assert_eq!(cfg.secret_of("otsd"), Some("otsd-secret"));
        assert_eq!(cfg.secret_of("other"), None);
        assert_eq!(cfg.max_body_bytes, 5 << 20);
        assert_eq!(cfg.max_date_skew, Some(Duration::from_secs(900)));
    }
}
