//! Closes a connection that has waited too long for a complete request head, idle on
//! keep-alive or trickling its headers, so that such clients cannot hold connection slots for
//! good. One watchdog per connection rather than hyper's header-read timer: that one arms a
//! timer for every request, which measured about 4% of a GetRow's server CPU.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

// tokio's clock, so that tests can pause it; without tokio's test-util it is `std`'s.
use tokio::time::Instant;

/// When a connection last started or finished a request, and how many it is serving.
pub struct Activity {
    origin: Instant,
    /// Milliseconds after `origin` of the last request start or finish.
    last_ms: AtomicU64,
    in_flight: AtomicU32,
}

impl Activity {
    /// The activity of a connection accepted now.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Marks a request (its head complete) as started; dropping the guard marks it finished.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.last_ms.store(self.now_ms(), Ordering::Release);
        InFlight(Arc::clone(self))
    }

    /// Resolves once the connection has served nothing and started nothing for `limit`:
    /// the time a client may take to send a complete request head, idle time included.
    pub async fn idle_for(&self, limit: Duration) {
        loop {
            let last = self.last_ms.load(Ordering::Acquire);
            let idle = Duration::from_millis(self.now_ms().saturating_sub(last));
            if self.in_flight.load(Ordering::Acquire) == 0 && idle >= limit {
                return;
            }
            // Look again when this idle stretch would reach the limit (not too often while
            // a request runs).
            tokio::time::sleep(limit.saturating_sub(idle).max(limit / 8)).await;
        }
    }
}

/// A request in progress on a connection (see `Activity::begin`).
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        activity.last_ms.store(activity.now_ms(), Ordering::Release);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_time_counts_only_when_no_request_runs() {
        let activity = Activity::new();
        let limit = Duration::from_secs(60);
        let request = activity.begin();
        // A request running longer than the limit does not make the connection idle.
        let running = tokio::time::timeout(limit * 2, activity.idle_for(limit)).await;
        assert!(running.is_err(), "closed while a request ran");
        drop(request);
        let waited = Instant::now();
        tokio::time::timeout(limit * 2, activity.idle_for(limit))
            .await
            .expect("idle after the request");
        assert!(waited.elapsed() >= limit, "closed before the limit");
    }
}
