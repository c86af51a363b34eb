//! `otsd im demo | bench`: the Timeline layer against a running server. `demo` simulates users
//! in one-to-one chats and groups, checks that every device of every member received every
//! message once and in order and that history pages back correctly; `bench` measures fan-out
//! throughput and send/sync latency percentiles (hdrhistogram) for a group size and concurrency.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::cli::bench::parse_duration;
use crate::cli::report::{new_histogram, record_since, RunProgress};
use crate::client::{Client, ClientConfig};
use crate::config::{DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_LISTEN};
use crate::protocol::plainbuffer::ColumnValue;
use crate::timeline::{Checkpoint, Conversation, Mode, Timeline, TimelineConfig};

/// Messages per sync read (one GetRange page).
const SYNC_PAGE: usize = 20;

/// Where the server is and who we are (shared by the `im` subcommands).
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Server endpoint.
    #[arg(long, env = "OTSD_ENDPOINT", default_value_t = format!("http://{DEFAULT_LISTEN}"))]
    pub endpoint: String,
    /// Instance to address.
    #[arg(long, default_value = "im")]
    pub instance: String,
    /// Access key id to sign with.
    #[arg(long, env = "OTSD_ACCESS_KEY_ID", default_value = DEFAULT_ACCESS_KEY_ID)]
    pub access_key_id: String,
    /// Access key secret to sign with.
    #[arg(long, env = "OTSD_ACCESS_KEY_SECRET", default_value = DEFAULT_ACCESS_KEY_SECRET)]
    pub access_key_secret: String,
    /// Table name prefix: tables `<prefix>_store`, `<prefix>_push`, `<prefix>_meta`.
    #[arg(long, default_value = "im")]
    pub prefix: String,
}

impl ConnectArgs {
    /// A Timeline over these flags with its tables created or checked.
    async fn prepared_timeline(
        &self,
        connections: usize,
        threshold: usize,
    ) -> anyhow::Result<Timeline> {
        let mut config = ClientConfig::new(
            &self.endpoint,
            &self.instance,
            &self.access_key_id,
            &self.access_key_secret,
        );
        config.max_connections = connections.max(1);
        let client = Client::new(config).context("invalid client configuration")?;
        let mut tc = TimelineConfig::with_prefix(&self.prefix);
        tc.read_expansion_threshold = threshold;
        let tl = Timeline::new(client, tc)?;
        tl.prepare_tables()
            .await
            .context("cannot prepare the tables")?;
        Ok(tl)
    }
}

/// Flags of `otsd im`.
#[derive(Debug, Clone, Args)]
pub struct ImArgs {
    /// What to run.
    #[command(subcommand)]
    pub command: ImCommand,
}

/// The `im` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum ImCommand {
    /// Simulate users chatting and check every delivery; non-zero exit on any mismatch.
    Demo(DemoArgs),
    /// Measure fan-out throughput and send/sync latency.
    Bench(ImBenchArgs),
}

/// Flags of `otsd im demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Connection flags.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Users (each with two devices).
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// One-to-one chats.
    #[arg(long, default_value_t = 6)]
    pub chats: usize,
    /// Groups (the first has every user).
    #[arg(long, default_value_t = 3)]
    pub groups: usize,
    /// Messages sent in every conversation.
    #[arg(long, default_value_t = 30)]
    pub messages: usize,
    /// Groups with more members than this use read-expansion.
    #[arg(long, default_value_t = 6)]
    pub read_expansion_threshold: usize,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// Flags of `otsd im bench`.
#[derive(Debug, Clone, Args)]
pub struct ImBenchArgs {
    /// Connection flags.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Users; groups of `--group-size` are cut from them round-robin.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Members per group (each message is written to this many sync queues).
    #[arg(long, default_value_t = 100)]
    pub group_size: usize,
    /// Messages to send; without it, send for `--duration`.
    #[arg(long)]
    pub messages: Option<u64>,
    /// Concurrent senders (and syncers).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Length of the send phase when `--messages` is not given (the sync phase reads up to
    /// as many pages as messages were sent, bounded by the same duration).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,
    /// Groups above this size use read-expansion (default: never).
    #[arg(long, default_value_t = usize::MAX)]
    pub read_expansion_threshold: usize,
    /// Seed of the workload.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `otsd im <command>`.
///
/// # Errors
/// The server is unreachable, a check of the demo failed, or the bench could not run.
pub fn run(args: ImArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("otsd-im")
        .build()
        .context("cannot start the tokio runtime")?;
    match args.command {
        ImCommand::Demo(demo_args) => {
            let report = runtime.block_on(demo(&demo_args))?;
            print!("{}", report.text);
            anyhow::ensure!(
                report.mismatches.is_empty(),
                "{} mismatches: {}",
                report.mismatches.len(),
                report.mismatches.join("; ")
            );
            Ok(())
        }
        ImCommand::Bench(bench_args) => {
            let report = runtime.block_on(bench(&bench_args))?;
            if bench_args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.to_text());
            }
            anyhow::ensure!(report.messages > 0, "no message was sent");
            Ok(())
        }
    }
}

/// What the demo found.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The printable summary.
    pub text: String,
    /// Every check that failed (empty: all good).
    pub mismatches: Vec<String>,
}

/// Runs the demo and returns its report.
///
/// # Errors
/// Invalid flags or a failed request (a wrong delivery is a mismatch, not an error).
pub async fn demo(args: &DemoArgs) -> anyhow::Result<DemoReport> {
    anyhow::ensure!(args.users >= 2, "--users must be at least 2");
    anyhow::ensure!(args.messages >= 1, "--messages must be at least 1");
    let started = Instant::now();
    let tl = args
        .connect
        .prepared_timeline(32, args.read_expansion_threshold)
        .await?;
    let (run, users) = run_users(args.users);
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut conversations = Vec::new();
    for c in 0..args.chats {
        let mut pair: Vec<String> = users.choose_multiple(&mut rng, 2).cloned().collect();
        pair.sort();
        conversations.push(
            tl.create_conversation(&format!("{run}-chat{c}"), &pair, None)
                .await?,
        );
    }
    for g in 0..args.groups {
        let members: Vec<String> = if g == 0 {
            users.clone()
        } else {
            let n = rng.gen_range(3.min(args.users)..=args.users);
            users.choose_multiple(&mut rng, n).cloned().collect()
        };
        conversations.push(
            tl.create_conversation(&format!("{run}-group{g}"), &members, None)
                .await?,
        );
    }
    let conversations = Arc::new(conversations);
    let devices = 2;
    let mut checkpoints: BTreeMap<(String, usize), Checkpoint> = BTreeMap::new();
    let mut received: BTreeMap<(String, usize), Vec<(String, i64)>> = BTreeMap::new();
    // Expected seq ids per conversation, in send order.
    let mut expected: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut deduplicated = 0usize;
    let mut member_writes = 0usize;
    let half = args.messages.div_ceil(2);
    for (phase, range) in [(0, 0..half), (1, half..args.messages)] {
        // Conversations send concurrently; each sends its messages in order.
        let mut tasks = tokio::task::JoinSet::new();
        for (ci, conv) in conversations.iter().enumerate() {
            let (tl, conv, range) = (tl.clone(), conv.clone(), range.clone());
            let seed = args.seed ^ ((ci as u64) << 16) ^ phase;
            tasks.spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed);
                let mut out = Vec::new();
                for k in range {
                    let sender = conv.members.choose(&mut rng).cloned().unwrap_or_default();
                    let cols = vec![(
                        "text".to_string(),
                        ColumnValue::String(format!("{} #{k}", conv.id)),
                    )];
                    let cmid = format!("{sender}-{k}");
                    let r = tl.send(&conv, &sender, &cols, &cmid).await?;
                    // Every 7th message is sent twice, as a client retry would.
                    let dup = if k % 7 == 3 {
                        let again = tl.send(&conv, &sender, &cols, &cmid).await?;
                        anyhow::ensure!(
                            again.seq_id == r.seq_id
                                && again.deduplicated
                                && again.fanout_rows == 0,
                            "retry of {cmid} in {} was not deduplicated: {again:?}",
                            conv.id
                        );
                        1
                    } else {
                        0
                    };
                    out.push((r.seq_id, r.fanout_rows, dup));
                }
                Ok::<_, anyhow::Error>((conv.id.clone(), out))
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let (conv, sent) = joined.context("sender task panicked")??;
            for (seq, rows, dup) in sent {
                expected.entry(conv.clone()).or_default().push(seq);
                member_writes += rows;
                deduplicated += dup;
            }
        }
        // Device 1 syncs after each phase, device 0 only at the end: separate checkpoints.
        for user in &users {
            for device in 0..devices {
                if phase == 0 && device == 0 {
                    continue;
                }
                let key = (user.clone(), device);
                let cp = checkpoints.entry(key.clone()).or_default();
                loop {
                    let batch = tl.sync(user, cp, SYNC_PAGE).await?;
                    received.entry(key.clone()).or_default().extend(
                        batch
                            .messages
                            .iter()
                            .map(|m| (m.conversation.clone(), m.seq_id)),
                    );
                    *cp = batch.checkpoint;
                    if !batch.more {
                        break;
                    }
                }
            }
        }
    }
    let mut mismatches = Vec::new();
    let mut deliveries = 0usize;
    for user in &users {
        for device in 0..devices {
            let got = received
                .get(&(user.clone(), device))
                .cloned()
                .unwrap_or_default();
            deliveries += got.len();
            for conv in conversations.iter().filter(|c| c.members.contains(user)) {
                let seen: Vec<i64> = got
                    .iter()
                    .filter(|(c, _)| *c == conv.id)
                    .map(|(_, s)| *s)
                    .collect();
                let want = expected.get(&conv.id).cloned().unwrap_or_default();
                if seen != want {
                    mismatches.push(format!(
                        "{user} device {device} in {}: got {} messages, want {} (first diff at {:?})",
                        conv.id,
                        seen.len(),
                        want.len(),
                        seen.iter().zip(&want).position(|(a, b)| a != b)
                    ));
                }
            }
            let foreign = got
                .iter()
                .filter(|(c, _)| {
                    !conversations
                        .iter()
                        .any(|k| k.id == *c && k.members.contains(user))
                })
                .count();
            if foreign > 0 {
                mismatches.push(format!(
                    "{user} device {device}: {foreign} messages of foreign conversations"
                ));
            }
        }
    }
    // History pages back (5 per page) to exactly the sent sequence.
    let mut history_pages = 0usize;
    for conv in conversations.iter() {
        let mut back = Vec::new();
        let mut before = None;
        loop {
            let page = tl.history(&conv.id, before, 5).await?;
            history_pages += 1;
            let Some(last) = page.last() else { break };
            before = Some(last.seq_id);
            back.extend(page.iter().map(|m| m.seq_id));
        }
        back.reverse();
        if Some(&back) != expected.get(&conv.id) {
            mismatches.push(format!(
                "history of {}: {} messages paged back, want {}",
                conv.id,
                back.len(),
                expected.get(&conv.id).map_or(0, Vec::len)
            ));
        }
    }
    let pulls = conversations
        .iter()
        .filter(|c| c.mode == Mode::Pull)
        .count();
    let sent: usize = expected.values().map(Vec::len).sum();
    let text = format!(
        "otsd im demo: endpoint={} instance={} run={run}\n\
         users {} x {devices} devices, conversations {} ({} chats, {} groups, {pulls} read-expansion)\n\
         sent {sent} messages ({deduplicated} retried sends deduplicated), {member_writes} sync-queue writes\n\
         delivered {deliveries} messages to devices, {history_pages} history pages read\n\
         checks: {} in {:.2}s\n",
        args.connect.endpoint,
        args.connect.instance,
        users.len(),
        conversations.len(),
        args.chats,
        args.groups,
        if mismatches.is_empty() { "all passed".to_string() } else { format!("{} FAILED", mismatches.len()) },
        started.elapsed().as_secs_f64(),
    );
    Ok(DemoReport { text, mismatches })
}

/// The outcome of `otsd im bench`.
#[derive(Debug, Clone, Serialize)]
pub struct ImBenchReport {
    /// Server endpoint.
    pub endpoint: String,
    /// Users.
    pub users: usize,
    /// Members per group.
    pub group_size: usize,
    /// Concurrent senders / syncers.
    pub concurrency: usize,
    /// Whether groups fanned out (`push`) or were read-expanded (`pull`).
    pub mode: String,
    /// Messages sent successfully.
    pub messages: u64,
    /// Sends that failed.
    pub send_errors: u64,
    /// What the first failed send reported, so a run that fails says why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_send_error: Option<String>,
    /// Wall time of the send phase (s).
    pub send_secs: f64,
    /// Messages per second.
    pub messages_per_sec: f64,
    /// Sync-queue rows written per second.
    pub member_writes_per_sec: f64,
    /// Send latency p50 (ms).
    pub send_p50_ms: f64,
    /// Send latency p99 (ms).
    pub send_p99_ms: f64,
    /// Slowest send (ms).
    pub send_max_ms: f64,
    /// Sync calls (20-message pages) made.
    pub syncs: u64,
    /// Messages those syncs returned.
    pub synced_messages: u64,
    /// Sync calls that failed.
    pub sync_errors: u64,
    /// Sync calls per second.
    pub syncs_per_sec: f64,
    /// Sync latency p50 (ms).
    pub sync_p50_ms: f64,
    /// Sync latency p99 (ms).
    pub sync_p99_ms: f64,
    /// Slowest sync (ms).
    pub sync_max_ms: f64,
    /// Client retries during the run.
    pub retries: u64,
}

impl ImBenchReport {
    /// The final table.
    pub fn to_text(&self) -> String {
        format!(
            "otsd im bench: endpoint={} users={} group_size={} concurrency={} mode={}\n\
             {:<6} {:>10} {:>12} {:>14} {:>9} {:>9} {:>9}\n\
             {:<6} {:>10} {:>12.1} {:>14.1} {:>9.2} {:>9.2} {:>9.2}\n\
             {:<6} {:>10} {:>12.1} {:>14} {:>9.2} {:>9.2} {:>9.2}\n\
             send errors {}, sync errors {}, retries {}, synced messages {}\n{}",
            self.endpoint,
            self.users,
            self.group_size,
            self.concurrency,
            self.mode,
            "phase",
            "ops",
            "ops/s",
            "member-wr/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "send",
            self.messages,
            self.messages_per_sec,
            self.member_writes_per_sec,
            self.send_p50_ms,
            self.send_p99_ms,
            self.send_max_ms,
            "sync",
            self.syncs,
            self.syncs_per_sec,
            "-",
            self.sync_p50_ms,
            self.sync_p99_ms,
            self.sync_max_ms,
            self.send_errors,
            self.sync_errors,
            self.retries,
            self.synced_messages,
            self.first_send_error
                .as_ref()
                .map_or(String::new(), |e| format!("first send error: {e}\n")),
        )
    }
}

/// A run id and `n` user ids under it; the run id keeps repeated runs against one server
/// apart.
fn run_users(n: usize) -> (String, Vec<String>) {
    let run = format!("{:x}", crate::timeline::now_ms());
    let users = (0..n).map(|u| format!("{run}-u{u}")).collect();
    (run, users)
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Hands out work until a count or a deadline is reached.
struct Budget {
    left: Option<AtomicU64>,
    deadline: Instant,
}

impl Budget {
    fn take(&self) -> bool {
        if Instant::now() >= self.deadline {
            return false;
        }
        match &self.left {
            Some(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
            None => true,
        }
    }
}

/// Runs the bench: creates groups, sends from `concurrency` tasks, then syncs 20-message pages
/// of random members from `concurrency` tasks.
///
/// # Errors
/// Invalid flags or the tables cannot be prepared.
pub async fn bench(args: &ImBenchArgs) -> anyhow::Result<ImBenchReport> {
    anyhow::ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    anyhow::ensure!(
        args.group_size >= 1 && args.users >= args.group_size,
        "--group-size must be 1..=--users"
    );
    anyhow::ensure!(
        args.messages != Some(0),
        "--messages must be at least 1 when given"
    );
    let tl = args
        .connect
        .prepared_timeline(args.concurrency * 4, args.read_expansion_threshold)
        .await?;
    let (run, users) = run_users(args.users);
    let groups_n = args.users.div_ceil(args.group_size);
    let mut groups = Vec::with_capacity(groups_n);
    for g in 0..groups_n {
        let members: Vec<String> = (0..args.group_size)
            .map(|i| users[(g * args.group_size + i) % users.len()].clone())
            .collect();
        groups.push(
            tl.create_conversation(&format!("{run}-g{g}"), &members, None)
                .await?,
        );
    }
    let groups: Arc<Vec<Conversation>> = Arc::new(groups);
    let mode = groups
        .first()
        .map_or("push", |g| g.mode.as_str())
        .to_string();
    let retries_before = tl.client().stats().retries;
    let max_run = args
        .messages
        .map_or(args.duration, |_| Duration::from_secs(3600));

    // Send phase.
    let budget = Arc::new(Budget {
        left: args.messages.map(AtomicU64::new),
        deadline: Instant::now() + max_run,
    });
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let progress = RunProgress::start(
        args.messages,
        args.duration,
        "messages",
        "msg/s",
        &done,
        started,
    );
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..args.concurrency {
        let (tl, groups, budget, done) = (
            tl.clone(),
            Arc::clone(&groups),
            Arc::clone(&budget),
            Arc::clone(&done),
        );
        let seed = args.seed.wrapping_add(w as u64);
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let (mut h, mut ok, mut errors, mut writes) = (new_histogram(), 0u64, 0u64, 0u64);
            let mut first_error = None;
            let mut k = 0u64;
            while budget.take() {
                let g = &groups[rng.gen_range(0..groups.len())];
                let sender = g.members.choose(&mut rng).cloned().unwrap_or_default();
                let cols = vec![(
                    "text".to_string(),
                    ColumnValue::String(format!("bench message {k} from worker {w}")),
                )];
                let t = Instant::now();
                match tl.send(g, &sender, &cols, &format!("w{w}-{k}")).await {
                    Ok(r) => {
                        ok += 1;
                        writes += r.fanout_rows as u64;
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
                record_since(&mut h, t);
                k += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
            (h, ok, errors, writes, first_error)
        });
    }
    let (mut send_h, mut messages, mut send_errors, mut member_writes) = (new_histogram(), 0, 0, 0);
    let mut first_send_error = None;
    while let Some(joined) = tasks.join_next().await {
        let (h, ok, errors, writes, first_error) = joined.context("sender panicked")?;
        first_send_error = first_send_error.or(first_error);
        send_h.add(&h).context("merging histograms")?;
        messages += ok;
        send_errors += errors;
        member_writes += writes;
    }
    let send_secs = started.elapsed().as_secs_f64().max(1e-9);
    progress.finish();

    // Sync phase: each task walks random members' queues from the start, one page per call.
    let sync_budget = Arc::new(Budget {
        left: Some(AtomicU64::new(messages.max(1))),
        deadline: Instant::now() + max_run,
    });
    let users = Arc::new(users);
    let sync_started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..args.concurrency {
        let (tl, users, budget) = (tl.clone(), Arc::clone(&users), Arc::clone(&sync_budget));
        let seed = args.seed.wrapping_add(1000 + w as u64);
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let (mut h, mut calls, mut got, mut errors) = (new_histogram(), 0u64, 0u64, 0u64);
            let mut user = users[rng.gen_range(0..users.len())].clone();
            let mut cp = Checkpoint::default();
            while budget.take() {
                let t = Instant::now();
                let batch = tl.sync(&user, &cp, SYNC_PAGE).await;
                record_since(&mut h, t);
                calls += 1;
                match batch {
                    Ok(b) if b.more => {
                        got += b.messages.len() as u64;
                        cp = b.checkpoint;
                    }
                    other => {
                        match other {
                            Ok(b) => got += b.messages.len() as u64,
                            Err(_) => errors += 1,
                        }
                        user = users[rng.gen_range(0..users.len())].clone();
                        cp = Checkpoint::default();
                    }
                }
            }
            (h, calls, got, errors)
        });
    }
    let (mut sync_h, mut syncs, mut synced, mut sync_errors) = (new_histogram(), 0, 0, 0);
    while let Some(joined) = tasks.join_next().await {
        let (h, calls, got, errors) = joined.context("syncer panicked")?;
        sync_errors += errors;
        sync_h.add(&h).context("merging histograms")?;
        syncs += calls;
        synced += got;
    }
    let sync_secs = sync_started.elapsed().as_secs_f64().max(1e-9);
    Ok(ImBenchReport {
        endpoint: args.connect.endpoint.clone(),
        users: args.users,
        group_size: args.group_size,
        concurrency: args.concurrency,
        mode,
        messages,
        send_errors,
        first_send_error,
        send_secs,
        messages_per_sec: messages as f64 / send_secs,
        member_writes_per_sec: member_writes as f64 / send_secs,
        send_p50_ms: ms(&send_h, 0.50),
        send_p99_ms: ms(&send_h, 0.99),
        send_max_ms: send_h.max() as f64 / 1000.0,
        syncs,
        synced_messages: synced,
        sync_errors,
        syncs_per_sec: syncs as f64 / sync_secs,
        sync_p50_ms: ms(&sync_h, 0.50),
        sync_p99_ms: ms(&sync_h, 0.99),
        sync_max_ms: sync_h.max() as f64 / 1000.0,
        retries: tl.client().stats().retries - retries_before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        im: ImArgs,
    }

    #[test]
    fn defaults_match_the_local_server() {
        let cli = Cli::try_parse_from(["im", "demo"]).expect("parses");
        let ImCommand::Demo(d) = cli.im.command else {
            panic!("demo expected")
        };
        assert_eq!(d.connect.endpoint, "http://127.0.0.1:8800");
        assert_eq!(
            (
                d.connect.instance.as_str(),
                d.connect.access_key_id.as_str()
            ),
            ("im", "otsd")
        );
        assert_eq!(d.connect.access_key_secret, "otsd-secret");
        let cli = Cli::try_parse_from([
            "im",
            "bench",
            "--group-size",
            "50",
            "--messages",
            "9",
            "--json",
        ])
        .expect("parses");
        let ImCommand::Bench(b) = cli.im.command else {
            panic!("bench expected")
        };
        assert_eq!((b.group_size, b.messages, b.json), (50, Some(9), true));
    }

    #[test]
    fn budget_stops_at_the_count() {
        let b = Budget {
            left: Some(AtomicU64::new(2)),
            deadline: Instant::now() + Duration::from_secs(60),
        };
        assert_eq!((0..5).filter(|_| b.take()).count(), 2);
    }

    #[test]
    fn report_json_has_the_required_fields() {
        let mut h = new_histogram();
        h.saturating_record(2000);
        let r = ImBenchReport {
            endpoint: "e".into(),
            users: 1,
            group_size: 1,
            concurrency: 1,
            mode: "push".into(),
            messages: 1,
            send_errors: 0,
            first_send_error: None,
            send_secs: 1.0,
            messages_per_sec: 1.0,
            member_writes_per_sec: 1.0,
            send_p50_ms: ms(&h, 0.5),
            send_p99_ms: ms(&h, 0.99),
            send_max_ms: 2.0,
            syncs: 1,
            synced_messages: 1,
            sync_errors: 0,
            syncs_per_sec: 1.0,
            sync_p50_ms: 1.0,
            sync_p99_ms: 1.0,
            sync_max_ms: 1.0,
            retries: 0,
        };
        let v = serde_json::to_value(&r).expect("json");
        for key in [
            "messages_per_sec",
            "member_writes_per_sec",
            "send_p50_ms",
            "send_p99_ms",
            "sync_p50_ms",
            "sync_p99_ms",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert!((v["send_p50_ms"].as_f64().unwrap_or(0.0) - 2.0).abs() < 0.01);
        assert!(r.to_text().contains("member-wr/s"));
        assert!(v.get("first_send_error").is_none());
        // A failing run says why, in both forms.
        let failed = ImBenchReport {
            first_send_error: Some("OTSParameterInvalid: too many rows".into()),
            ..r
        };
        assert!(failed
            .to_text()
            .contains("first send error: OTSParameterInvalid: too many rows"));
        let v = serde_json::to_value(&failed).expect("json");
        assert_eq!(v["first_send_error"], "OTSParameterInvalid: too many rows");
    }
}
