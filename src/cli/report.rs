//! What the load generators (`otsd bench`, `otsd im bench`) share for measuring a run:
//! the latency histogram and the progress bar shown on a terminal while the run goes.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Latencies above this (one hour) are clamped into the histogram's top bucket.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// An empty latency histogram in microseconds, 1 µs to [`MAX_LATENCY_US`], 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // Bounds are constants within hdrhistogram's valid range, so this cannot fail.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// Records the time since `since` in `h`, clamped into the histogram's bounds.
pub fn record_since(h: &mut Histogram<u64>, since: Instant) {
    let us = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
    h.saturating_record(us.clamp(1, MAX_LATENCY_US));
}

/// A progress bar on stderr when it is a terminal; `None` otherwise (logs, pipes, CI).
pub fn progress_bar(len: u64, unit: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    let template = format!("{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit} {{msg}}");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    Some(bar)
}

/// The progress of a measured phase that runs for a count of operations or for a duration:
/// a bar (on a terminal only) that a background task moves every 200 ms and labels with the
/// rate so far.
pub struct RunProgress {
    bar: Option<indicatif::ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl RunProgress {
    /// Shows the bar: over `count` operations of `unit` when given, else over the seconds of
    /// `duration`. `done` is the operations finished so far, `started` when the phase began,
    /// and `rate_unit` names the rate (`"req/s"`). Must be called within a Tokio runtime.
    pub fn start(
        count: Option<u64>,
        duration: Duration,
        unit: &str,
        rate_unit: &'static str,
        done: &Arc<AtomicU64>,
        started: Instant,
    ) -> RunProgress {
        let bar = match count {
            Some(n) => progress_bar(n, unit),
            None => progress_bar(duration.as_secs().max(1), "seconds"),
        };
        let ticker = bar.clone().map(|bar| {
            let (done, by_count) = (Arc::clone(done), count.is_some());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let n = done.load(Ordering::Relaxed);
                    let secs = started.elapsed().as_secs_f64().max(1e-3);
                    bar.set_position(if by_count {
                        n
                    } else {
                        started.elapsed().as_secs()
                    });
                    bar.set_message(format!("{:.0} {rate_unit}", n as f64 / secs));
                }
            })
        });
        RunProgress { bar, ticker }
    }

    /// Stops the ticker and clears the bar.
    pub fn finish(self) {
        if let Some(ticker) = self.ticker {
            ticker.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
