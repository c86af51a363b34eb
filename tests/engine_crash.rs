//! Crash test: a child process (this same test binary, re-executed in child mode) writes
//! numbered batches with `SyncPolicy::Always` and prints each acknowledged number; the parent
//! SIGKILLs it at a random moment, reopens the engine and checks that every acknowledged batch
//! is fully present and that no batch is half-visible.
//!
//! Hundreds of iterations:
//!     OTSD_CRASH_ITERATIONS=300 cargo test --release --test engine_crash -- --nocapture

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use otsd::engine::key::{encode_row_key, PkValue};
use otsd::engine::{DataOptions, Direction, Engine, Options, ReadOptions, SyncPolicy, WriteBatch};
use rand::Rng;

const CHILD_DIR: &str = "OTSD_CRASH_CHILD_DIR";
const CHILD_START: &str = "OTSD_CRASH_CHILD_START";
const CHILD_SYNC: &str = "OTSD_CRASH_CHILD_SYNC";
/// A second row per batch lives at `INDEX_BASE + n`, so a batch spans two rows.
const INDEX_BASE: i64 = 1 << 40;

fn rk(n: i64) -> Vec<u8> {
    encode_row_key(&[PkValue::Integer(n)])
}

/// The sync policy of the child's engine, from `OTSD_CRASH_CHILD_SYNC` ("never" or fsync).
fn options_for(sync: SyncPolicy) -> Options {
    // Small memtables so flushes (and compactions) happen while the child is being killed.
    Options {
        sync,
        memtable_size_bytes: 32 << 10,
        l0_compaction_trigger: 2,
        ..Options::default()
    }
}

fn data() -> DataOptions {
    DataOptions {
        ttl_secs: None,
        max_versions: 1,
    }
}

/// Child mode: only does something when the parent set `OTSD_CRASH_CHILD_DIR`.
#[test]
#[ignore = "child process of acknowledged_batches_survive_sigkill"]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let start: i64 = std::env::var(CHILD_START)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let sync = match std::env::var(CHILD_SYNC).as_deref() {
        Ok("never") => SyncPolicy::Never,
        _ => SyncPolicy::Always,
    };
    let engine = Engine::open(Path::new(&dir), options_for(sync), data()).unwrap();
    for n in start.. {
        let mut b = WriteBatch::new();
        let value = n.to_le_bytes();
        for col in [&b"a"[..], b"b", b"c"] {
            b.put(&rk(n), col, Some(1), &value);
        }
        b.put(&rk(INDEX_BASE + n), b"x", Some(1), &value);
        engine.write(b).unwrap();
        println!("ACK {n}");
    }
}

/// Which batches are visible, checking each one is whole.
fn visible_batches(engine: &Engine) -> Vec<i64> {
    let read = ReadOptions::default();
    let mut seen = Vec::new();
    for row in engine
        .scan(&rk(0), &rk(INDEX_BASE), Direction::Forward, &read)
        .unwrap()
    {
        let row = row.unwrap();
        let Some(PkValue::Integer(n)) =
            otsd::engine::key::decode_row_key(&row.key).and_then(|v| v.into_iter().next())
        else {
            panic!("unexpected row key {:?}", row.key);
        };
        assert_eq!(row.columns.len(), 3, "batch {n}: main row is partial");
        for c in &row.columns {
            assert_eq!(c.cells[0].value, n.to_le_bytes(), "batch {n}");
        }
        let index = engine.get_row(&rk(INDEX_BASE + n), &read).unwrap();
        assert!(
            index.is_some(),
            "batch {n}: index row missing while main row is present"
        );
        seen.push(n);
    }
    let index_rows = engine
        .scan(&rk(INDEX_BASE), &[0xFF], Direction::Forward, &read)
        .unwrap()
        .count();
    assert_eq!(
        index_rows,
        seen.len(),
        "an index row without its main row: half a batch is visible"
    );
    seen
}

#[test]
fn acknowledged_batches_survive_sigkill() {
    crash_rounds("always");
}

/// Without fsync a write is still in the page cache (written or mapped) when acknowledged,
/// so a process crash must not lose it either.
#[test]
fn acknowledged_batches_survive_sigkill_without_fsync() {
    crash_rounds("never");
}

fn crash_rounds(sync: &str) {
    let iterations: usize = std::env::var("OTSD_CRASH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::thread_rng();
    let mut next = 0i64;
    let mut total_acked = 0usize;
    for iteration in 0..iterations {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "crash_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_START, next.to_string())
            .env(CHILD_SYNC, sync)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line
                    .strip_prefix("ACK ")
                    .and_then(|s| s.trim().parse::<i64>().ok())
                {
                    acked.push(n);
                }
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(30..400)));
        // SAFETY: plain syscall on the pid of a child we spawned and have not yet reaped.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
        }
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        total_acked += acked.len();

        let engine = Engine::open(dir.path(), options_for(SyncPolicy::Always), data()).unwrap();
        let visible = visible_batches(&engine);
        let present: std::collections::HashSet<i64> = visible.iter().copied().collect();
        for n in &acked {
            assert!(
                present.contains(n),
                "iteration {iteration}: acknowledged batch {n} lost"
            );
        }
        // Batches are written in order: what is visible is a prefix of 0..
        assert_eq!(
            visible,
            (0..visible.len() as i64).collect::<Vec<_>>(),
            "iteration {iteration}: hole in the batches"
        );
        next = visible.len() as i64;
        engine.close().unwrap();
    }
    eprintln!("sync={sync}: {iterations} crashes survived, {total_acked} acknowledged batches checked, {next} batches on disk");
}
