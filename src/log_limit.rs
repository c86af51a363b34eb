//! Holding back log lines that would repeat on every request while a condition lasts (a full
//! disk, no file descriptors left, a stalled or stopped engine). The first line is written at
//! once, then at most one per interval, saying how many were held back in between. Without
//! it a full disk wrote one error line per refused request, tens of thousands a second, to a
//! log that may live on the same full disk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How often a condition that every request runs into is logged again.
pub const REPEAT_INTERVAL: Duration = Duration::from_secs(10);

/// One kind of repeated log line: whether it may be written now, and how many were held back.
#[derive(Debug)]
pub struct LogLimit {
    interval_ms: u64,
    /// Milliseconds since `epoch()` before which lines are held back.
    next_ms: AtomicU64,
    /// Lines held back since the last one written.
    held: AtomicU64,
}

impl LogLimit {
    /// A limit of one line per `interval`, the first admitted at once.
    pub const fn new(interval: Duration) -> LogLimit {
        LogLimit {
            interval_ms: interval.as_millis() as u64,
            next_ms: AtomicU64::new(0),
            held: AtomicU64::new(0),
        }
    }

    /// `Some(lines held back since the last admitted one)` when a line may be written now;
    /// `None` (and the line counted) when it is to be held back.
    pub fn admit(&self) -> Option<u64> {
        self.admit_at(elapsed_ms())
    }

    fn admit_at(&self, now_ms: u64) -> Option<u64> {
        let next = self.next_ms.load(Ordering::Relaxed);
        let won = now_ms >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now_ms + self.interval_ms,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
        if won {
            Some(self.held.swap(0, Ordering::Relaxed))
        } else {
            self.held.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// Milliseconds since the first call in this process (a monotonic clock).
fn elapsed_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_passes_then_one_per_interval_with_the_count_held_back() {
        let limit = LogLimit::new(Duration::from_secs(10));
        assert_eq!(limit.admit_at(5), Some(0));
        assert_eq!(limit.admit_at(6), None);
        assert_eq!(limit.admit_at(10_004), None);
        assert_eq!(limit.admit_at(10_005), Some(2));
        assert_eq!(limit.admit_at(10_006), None);
        assert_eq!(limit.admit_at(30_000), Some(1));
        assert_eq!(limit.admit_at(30_000), None);
    }

    #[test]
    fn racing_threads_admit_one_line_and_count_the_rest() {
        let limit = std::sync::Arc::new(LogLimit::new(Duration::from_secs(3600)));
        let admitted: u64 = (0..4)
            .map(|_| {
                let limit = std::sync::Arc::clone(&limit);
                std::thread::spawn(move || (0..1000).filter(|_| limit.admit().is_some()).count())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap() as u64)
            .sum();
        assert_eq!(admitted, 1);
        assert_eq!(limit.held.load(Ordering::Relaxed), 3999);
    }
}
