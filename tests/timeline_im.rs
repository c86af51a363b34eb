//! The Timeline layer against the real `otsd`: send/sync/history, per-device checkpoints,
//! read-expansion, idempotent retries (including a send stopped between its steps) and
//! sync-queue rows expiring by TTL.

mod common;

use std::time::Duration;

use otsd::client::{Client, Condition};
use otsd::protocol::pb;
use otsd::protocol::plainbuffer::{Cell, ColumnValue};
use otsd::timeline::meta::Claim;
use otsd::timeline::push::push_row;
use otsd::timeline::{Checkpoint, Conversation, Message, Mode, Timeline, TimelineConfig};

/// A timeline on `server` with its tables created.
async fn timeline(server: &common::TestServer, config: TimelineConfig) -> Timeline {
    let client = Client::new(server.client_config()).expect("client");
    let tl = Timeline::new(client, config).expect("timeline");
    tl.prepare_tables().await.expect("tables");
    tl
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn text(t: &str) -> Vec<(String, ColumnValue)> {
    vec![("text".to_string(), ColumnValue::String(t.to_string()))]
}

fn users(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Drains everything for `user` from `cp`, in pages of `page`.
async fn drain(tl: &Timeline, user: &str, cp: &mut Checkpoint, page: usize) -> Vec<Message> {
    let mut out = Vec::new();
    loop {
        let batch = tl.sync(user, cp, page).await.expect("sync");
        assert!(batch.messages.len() <= page);
        out.extend(batch.messages);
        *cp = batch.checkpoint;
        if !batch.more {
            return out;
        }
    }
}

fn texts(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.text("text").unwrap_or("?").to_string())
        .collect()
}

#[test]
fn send_sync_and_history_with_two_devices_per_user() {
    let server = common::TestServer::start();
    runtime().block_on(async {
        let tl = timeline(&server, TimelineConfig::with_prefix("t1")).await;
        // A second prepare finds and checks the tables.
        tl.prepare_tables().await.expect("tables exist");
        let conv = tl
            .create_conversation("chat-ab", &users(&["alice", "bob"]), None)
            .await
            .expect("conversation");
        assert_eq!(conv.mode, Mode::Push);
        assert_eq!(tl.conversation("chat-ab").await.expect("read back"), conv);

        let mut seqs = Vec::new();
        for i in 0..25 {
            let from = if i % 2 == 0 { "alice" } else { "bob" };
            let r = tl
                .send(&conv, from, &text(&format!("m{i}")), &format!("c{i}"))
                .await
                .expect("send");
            assert_eq!((r.fanout_rows, r.deduplicated), (2, false));
            seqs.push(r.seq_id);
        }
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        let expected: Vec<String> = (0..25).map(|i| format!("m{i}")).collect();

        // Phone syncs twice (midway checkpoint kept), laptop once: both see everything once.
        let mut phone = Checkpoint::default();
        let first = tl.sync("bob", &phone, 10).await.expect("sync");
        assert!(first.more);
        assert_eq!(texts(&first.messages), expected[..10]);
        phone = first.checkpoint;
        let rest = drain(&tl, "bob", &mut phone, 7).await;
        assert_eq!(texts(&rest), expected[10..]);
        let mut laptop = Checkpoint::default();
        let all = drain(&tl, "bob", &mut laptop, 20).await;
        assert_eq!(texts(&all), expected);
        assert_eq!(all.iter().map(|m| m.seq_id).collect::<Vec<_>>(), seqs);
        assert_eq!(laptop, phone);
        // Nothing new: an empty batch with the same checkpoint.
        let again = tl.sync("bob", &laptop, 20).await.expect("sync");
        assert!(again.messages.is_empty() && !again.more);
        assert_eq!(again.checkpoint, laptop);

        // History pages backwards, newest first.
        let page1 = tl.history("chat-ab", None, 10).await.expect("history");
        assert_eq!(page1.len(), 10);
        assert_eq!(page1[0].seq_id, seqs[24]);
        let oldest = page1.last().expect("page").seq_id;
        let page2 = tl
            .history("chat-ab", Some(oldest), 10)
            .await
            .expect("history");
        assert_eq!(page2[0].seq_id, seqs[14]);
        let page3 = tl
            .history("chat-ab", Some(page2[9].seq_id), 10)
            .await
            .expect("history");
        assert_eq!(texts(&page3), ["m4", "m3", "m2", "m1", "m0"]);
        assert_eq!(page3[4].sender, "alice");
    });
}

#[test]
fn read_expansion_conversations_are_merged_into_sync() {
    let server = common::TestServer::start();
    runtime().block_on(async {
        let mut config = TimelineConfig::with_prefix("t2");
        config.read_expansion_threshold = 3;
        let tl = timeline(&server, config).await;
        let big = tl
            .create_conversation("big", &users(&["u1", "u2", "u3", "u4"]), None)
            .await
            .expect("big");
        assert_eq!(big.mode, Mode::Pull);
        let small = tl
            .create_conversation("small", &users(&["u1", "u2"]), None)
            .await
            .expect("small");
        for i in 0..5 {
            let r = tl
                .send(&big, "u3", &text(&format!("big{i}")), &format!("b{i}"))
                .await
                .expect("send big");
            assert_eq!(r.fanout_rows, 0);
            let s = tl
                .send(&small, "u2", &text(&format!("small{i}")), &format!("s{i}"))
                .await
                .expect("send small");
            // Both modes leave a complete dedup record: the push send recorded its seq id
            // inside the fan-out request, the pull send with its completion.
            for (conv, cmid, seq) in [
                ("big", format!("b{i}"), r.seq_id),
                ("small", format!("s{i}"), s.seq_id),
            ] {
                let claim = tl.claim(conv, &cmid).await.expect("claim");
                let Claim::Existing(record) = claim else {
                    panic!("{conv}/{cmid} was not recorded: {claim:?}");
                };
                assert_eq!((record.store_seq, record.fanout_done), (Some(seq), true));
            }
        }
        assert_eq!(tl.pull_conversations("u1").await.expect("pulls"), ["big"]);
        let mut cp = Checkpoint::default();
        let got = drain(&tl, "u1", &mut cp, 3).await;
        let mut small_texts = Vec::new();
        let mut big_texts = Vec::new();
        for m in &got {
            match m.conversation.as_str() {
                "big" => big_texts.push(m.text("text").unwrap_or("").to_string()),
                "small" => small_texts.push(m.text("text").unwrap_or("").to_string()),
                other => panic!("unexpected conversation {other}"),
            }
        }
        assert_eq!(big_texts, ["big0", "big1", "big2", "big3", "big4"]);
        assert_eq!(
            small_texts,
            ["small0", "small1", "small2", "small3", "small4"]
        );
        assert!(cp.pull.contains_key("big"));
        // u4 is only in the big group; a new message arrives after its checkpoint only.
        let mut cp4 = Checkpoint::default();
        assert_eq!(drain(&tl, "u4", &mut cp4, 100).await.len(), 5);
        tl.send(&big, "u1", &text("late"), "late")
            .await
            .expect("send");
        let late = drain(&tl, "u4", &mut cp4, 100).await;
        assert_eq!(texts(&late), ["late"]);
        // An explicitly pulled small conversation.
        let forced = tl
            .create_conversation("forced", &users(&["u9"]), Some(Mode::Pull))
            .await
            .expect("forced");
        assert_eq!(forced.mode, Mode::Pull);
    });
}

#[test]
fn a_retried_send_delivers_once_even_after_a_crash_between_steps() {
    let server = common::TestServer::start();
    runtime().block_on(async {
        // A crashed attempt's claim is taken over at once (no lease to wait out).
        let config = TimelineConfig {
            claim_lease_ms: 0,
            ..TimelineConfig::with_prefix("t3")
        };
        let tl = timeline(&server, config).await;
        let members = users(&["a", "b", "c", "d"]);
        let conv = tl
            .create_conversation("g", &members, None)
            .await
            .expect("conversation");

        // Same id twice: the second call is a no-op returning the same seq id.
        let r1 = tl
            .send(&conv, "a", &text("hello"), "dup")
            .await
            .expect("send");
        let r2 = tl
            .send(&conv, "a", &text("hello"), "dup")
            .await
            .expect("resend");
        assert_eq!(r1.seq_id, r2.seq_id);
        assert!(r2.deduplicated);
        assert_eq!(r2.fanout_rows, 0);

        // Crash after the store step: the retry fans out to everyone, stores nothing new.
        assert!(matches!(
            tl.claim("g", "crash1").await.expect("claim"),
            otsd::timeline::meta::Claim::Won { .. }
        ));
        let stored = tl
            .store_step(&conv, "b", &text("crash1"), "crash1")
            .await
            .expect("store");
        let r = tl
            .send(&conv, "b", &text("crash1"), "crash1")
            .await
            .expect("retry");
        assert_eq!(
            (r.seq_id, r.fanout_rows, r.deduplicated),
            (stored.seq_id, 4, true)
        );

        // Crash after the fan-out, before completion: its first request recorded the seq id,
        // so the retry neither scans nor stores, and finds every member served.
        assert!(matches!(
            tl.claim("g", "fanned").await.expect("claim"),
            otsd::timeline::meta::Claim::Won { .. }
        ));
        let sent_ms = 1_700_000_000_000;
        let cells = vec![Cell::put(
            "text",
            ColumnValue::String("fanned".into()),
            None,
        )];
        let seq = tl
            .store_append("g", "d", "fanned", sent_ms, cells)
            .await
            .expect("store");
        let msg = Message {
            conversation: "g".into(),
            seq_id: seq,
            sender: "d".into(),
            client_msg_id: "fanned".into(),
            sent_ms,
            columns: text("fanned"),
        };
        assert_eq!(tl.fan_out_step(&conv, &msg).await.expect("fan-out"), 4);
        let otsd::timeline::meta::Claim::Existing(record) =
            tl.claim("g", "fanned").await.expect("claim")
        else {
            panic!("the claim vanished");
        };
        assert_eq!((record.store_seq, record.fanout_done), (Some(seq), false));
        let r = tl
            .send(&conv, "d", &text("fanned"), "fanned")
            .await
            .expect("retry");
        assert_eq!((r.seq_id, r.fanout_rows, r.deduplicated), (seq, 0, true));

        // Crash in the middle of the fan-out: only the missing members get a copy.
        tl.claim("g", "crash2").await.expect("claim");
        let stored = tl
            .store_step(&conv, "c", &text("crash2"), "crash2")
            .await
            .expect("store");
        let written = tl
            .fan_out(&stored, &members[..2])
            .await
            .expect("partial fan-out");
        assert_eq!(written, 2);
        let r = tl
            .send(&conv, "c", &text("crash2"), "crash2")
            .await
            .expect("retry");
        assert_eq!((r.seq_id, r.fanout_rows), (stored.seq_id, 2));

        // Crash after the claim, before the store: the retry stores exactly once.
        tl.claim("g", "crash3").await.expect("claim");
        let r = tl
            .send(&conv, "d", &text("crash3"), "crash3")
            .await
            .expect("retry");
        assert_eq!((r.fanout_rows, r.deduplicated), (4, false));
        let again = tl
            .send(&conv, "d", &text("crash3"), "crash3")
            .await
            .expect("again");
        assert_eq!(again.seq_id, r.seq_id);

        let expected = ["hello", "crash1", "fanned", "crash2", "crash3"];
        for user in &members {
            let mut cp = Checkpoint::default();
            let got = drain(&tl, user, &mut cp, 20).await;
            assert_eq!(texts(&got), expected, "user {user}");
        }
        let history = tl.history("g", None, 100).await.expect("history");
        assert_eq!(history.len(), expected.len(), "each message stored once");
    });
}

#[test]
fn reserved_columns_and_empty_ids_are_refused_before_anything_is_written() {
    let server = common::TestServer::start();
    runtime().block_on(async {
        let tl = timeline(&server, TimelineConfig::with_prefix("t4")).await;
        let conv = Conversation {
            id: "x".into(),
            members: users(&["a"]),
            mode: Mode::Push,
        };
        let bad = vec![("_conv".to_string(), ColumnValue::Integer(1))];
        assert!(tl.send(&conv, "a", &bad, "id").await.is_err());
        assert!(tl.send(&conv, "a", &text("x"), "").await.is_err());
        assert!(tl.history("x", None, 10).await.expect("history").is_empty());
        assert!(tl.conversation("nope").await.is_err());
    });
}

#[test]
fn sync_skips_queue_rows_expired_by_ttl() {
    let server = common::TestServer::start();
    runtime().block_on(async {
        // TTL is one day at least and explicit versions may be at most TTL old: write one
        // 2 s short of the TTL and wait for it to age out.
        let mut config = TimelineConfig::with_prefix("t5");
        config.push_ttl_secs = 86_400;
        let tl = timeline(&server, config.clone()).await;
        let old = Message {
            conversation: "c".into(),
            seq_id: 1,
            sender: "s".into(),
            client_msg_id: "old".into(),
            sent_ms: 0,
            columns: text("old"),
        };
        let now_ms = chrono::Utc::now().timestamp_millis();
        let aged = now_ms - 86_400_000 + 2_000;
        let row = push_row("u", &old, aged, Some(aged));
        tl.client()
            .put(
                &config.push_table,
                &row,
                Condition::ignore(),
                pb::ReturnType::RtNone,
            )
            .await
            .expect("old row within the deviation");
        let fresh = Message {
            seq_id: 2,
            client_msg_id: "new".into(),
            columns: text("new"),
            ..old.clone()
        };
        tl.fan_out(&fresh, &users(&["u"])).await.expect("fresh row");
        let before = drain(&tl, "u", &mut Checkpoint::default(), 10).await;
        assert_eq!(texts(&before), ["old", "new"]);
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        let after = drain(&tl, "u", &mut Checkpoint::default(), 10).await;
        assert_eq!(texts(&after), ["new"]);
    });
}

#[test]
fn a_retry_racing_an_unfinished_send_waits_and_only_one_retry_takes_over() {
    let server = common::TestServer::start();
    runtime().block_on(async {
        let tl = timeline(&server, TimelineConfig::with_prefix("t9")).await;
        let members = users(&["a", "b"]);
        let conv = tl
            .create_conversation("g", &members, None)
            .await
            .expect("conversation");

        // The first attempt claimed the id and is still running: a retry must not store.
        let otsd::timeline::meta::Claim::Won { claimed_ms } =
            tl.claim("g", "slow").await.expect("claim")
        else {
            panic!("first claim must win");
        };
        let e = tl
            .send(&conv, "a", &text("slow"), "slow")
            .await
            .expect_err("inside the lease");
        assert!(
            matches!(e, otsd::timeline::TimelineError::InProgress { .. }),
            "{e}"
        );
        assert!(tl.history("g", None, 10).await.expect("history").is_empty());

        // Past the lease, of two retries that read the same claim exactly one takes it over.
        assert!(tl
            .take_over_claim("g", "slow", claimed_ms)
            .await
            .expect("take over"));
        assert!(!tl
            .take_over_claim("g", "slow", claimed_ms)
            .await
            .expect("second taker"));
    });
}

#[test]
fn groups_that_fill_whole_batches_receive_every_message() {
    let server = common::TestServer::start();
    runtime().block_on(async {
        let tl = timeline(&server, TimelineConfig::with_prefix("full")).await;
        // 200 members fill one BatchWriteRow exactly; 401 spill one row into a third chunk.
        // The send's dedup record rides in the first chunk and must not push it over 200 rows.
        for size in [199usize, 200, 401] {
            let members: Vec<String> = (0..size).map(|i| format!("g{size}-u{i}")).collect();
            let conv = tl
                .create_conversation(&format!("g{size}"), &members, None)
                .await
                .expect("conversation");
            assert_eq!(conv.mode, Mode::Push);
            let sent = tl
                .send(&conv, &members[0], &text("hello"), &format!("c{size}"))
                .await
                .expect("send");
            assert_eq!(sent.fanout_rows, size);
            for member in [&members[0], &members[size / 2], &members[size - 1]] {
                let got = drain(&tl, member, &mut Checkpoint::default(), 10).await;
                assert_eq!(texts(&got), ["hello"], "member {member} of {size}");
            }
        }
    });
}
