#!/usr/bin/env python3
"""The IM Timeline model on the official Tablestore Python SDK, against otsd (or Tablestore).

Tables: a StoreTable (conv_id STRING, seq_id INTEGER AUTO_INCREMENT; kept forever) with each
conversation's history, and a PushTable (user_id STRING, seq_id INTEGER AUTO_INCREMENT;
TTL 7 days) with each user's sync queue. `send` appends once to the StoreTable (PutRow,
RT_PK -> seq id) and fans the message out to every member's queue with BatchWriteRow in
chunks of at most 200 rows, re-sending rows that failed; `sync` reads a queue forward from a
device's checkpoint (exclusive) in pages; `history` pages backwards through a conversation.
The script checks its own results and exits 0.

Usage: im_timeline.py [ENDPOINT [INSTANCE [ACCESS_KEY_ID [ACCESS_KEY_SECRET]]]]
(or OTSD_ENDPOINT, OTSD_INSTANCE, OTSD_ACCESS_KEY_ID, OTSD_ACCESS_KEY_SECRET; defaults are
the local server's: http://127.0.0.1:8800, im, otsd, otsd-secret).
"""

import os
import sys
import time

from tablestore import (
    INF_MAX,
    INF_MIN,
    PK_AUTO_INCR,
    BatchWriteRowRequest,
    CapacityUnit,
    Condition,
    Direction,
    OTSClient,
    OTSServiceError,
    PutRowItem,
    ReservedThroughput,
    ReturnType,
    Row,
    TableInBatchWriteRowItem,
    TableMeta,
    TableOptions,
)

MAX_BATCH_ROWS = 200
PUSH_TTL_SECS = 7 * 24 * 3600
PAGE = 20


def arg(index, env, default):
    if len(sys.argv) > index:
        return sys.argv[index]
    return os.environ.get(env, default)


class Timeline:
    def __init__(self, client, prefix):
        self.client = client
        self.store = prefix + "_store"
        self.push = prefix + "_push"

    def create_tables(self):
        for table, first, ttl in ((self.store, "conv_id", -1), (self.push, "user_id", PUSH_TTL_SECS)):
            meta = TableMeta(table, [(first, "STRING"), ("seq_id", "INTEGER", PK_AUTO_INCR)])
            try:
                self.client.create_table(meta, TableOptions(ttl, 1), ReservedThroughput(CapacityUnit(0, 0)))
            except OTSServiceError as e:
                if e.get_error_code() != "OTSObjectAlreadyExist":
                    raise

    def send(self, conv, members, sender, text):
        """Stores the message once, then fans it out; returns its StoreTable seq id."""
        sent_ms = int(time.time() * 1000)
        columns = [("sender", sender), ("text", text), ("sent_ms", sent_ms)]
        row = Row([("conv_id", conv), ("seq_id", PK_AUTO_INCR)], columns)
        _, returned = self.client.put_row(self.store, row, Condition("IGNORE"), ReturnType.RT_PK)
        seq = dict(returned.primary_key)["seq_id"]
        push_columns = columns + [("conv_id", conv), ("store_seq", seq)]
        for start in range(0, len(members), MAX_BATCH_ROWS):
            pending = members[start:start + MAX_BATCH_ROWS]
            for _attempt in range(5):
                items = [
                    PutRowItem(Row([("user_id", user), ("seq_id", PK_AUTO_INCR)], push_columns),
                               Condition("IGNORE"))
                    for user in pending
                ]
                request = BatchWriteRowRequest()
                request.add(TableInBatchWriteRowItem(self.push, items))
                results = self.client.batch_write_row(request).get_put_by_table(self.push)
                pending = [user for user, result in zip(pending, results) if not result.is_ok]
                if not pending:
                    break
                time.sleep(0.05)
            assert not pending, f"fan-out rows kept failing for {pending}"
        return seq

    def sync(self, user, checkpoint, limit=PAGE):
        """Messages of `user`'s queue after `checkpoint`: (messages, new checkpoint, more)."""
        start = [("user_id", user), ("seq_id", checkpoint + 1)]
        end = [("user_id", user), ("seq_id", INF_MAX)]
        _, next_start, rows, _ = self.client.get_range(
            self.push, Direction.FORWARD, start, end, limit=limit, max_version=1)
        messages = []
        for row in rows:
            checkpoint = dict(row.primary_key)["seq_id"]
            messages.append({c[0]: c[1] for c in row.attribute_columns})
        more = next_start is not None or len(rows) == limit
        return messages, checkpoint, more

    def history(self, conv, before_seq=None, n=PAGE):
        """Up to n messages older than before_seq, newest first, as (seq, columns)."""
        top = INF_MAX if before_seq is None else before_seq - 1
        start = [("conv_id", conv), ("seq_id", top)]
        end = [("conv_id", conv), ("seq_id", INF_MIN)]
        out = []
        while len(out) < n:
            _, next_start, rows, _ = self.client.get_range(
                self.store, Direction.BACKWARD, start, end, limit=n - len(out), max_version=1)
            out.extend((dict(r.primary_key)["seq_id"], {c[0]: c[1] for c in r.attribute_columns})
                       for r in rows)
            if next_start is None:
                break
            start = next_start
        return out


def drain(timeline, user, checkpoint, page):
    received = []
    while True:
        messages, checkpoint, more = timeline.sync(user, checkpoint, page)
        received.extend(messages)
        if not more:
            return received, checkpoint


def main():
    endpoint = arg(1, "OTSD_ENDPOINT", "http://127.0.0.1:8800")
    instance = arg(2, "OTSD_INSTANCE", "im")
    key_id = arg(3, "OTSD_ACCESS_KEY_ID", "otsd")
    secret = arg(4, "OTSD_ACCESS_KEY_SECRET", "otsd-secret")
    client = OTSClient(endpoint, key_id, secret, instance, logger_name="im-timeline-example")
    run = format(int(time.time() * 1000), "x")
    timeline = Timeline(client, "pyim")
    timeline.create_tables()

    users = [f"{run}-u{i}" for i in range(5)]
    chat = (f"{run}-chat", users[:2])
    group = (f"{run}-group", users)
    sent = {chat[0]: [], group[0]: []}
    for k in range(12):
        for conv, members in (chat, group):
            sender = members[k % len(members)]
            text = f"{conv} #{k}"
            seq = timeline.send(conv, members, sender, text)
            sent[conv].append((seq, text))
    for conv in sent:
        seqs = [s for s, _ in sent[conv]]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs

    # Two devices per user with their own checkpoints: the phone syncs in two steps.
    for user in users:
        expected = [t for k in range(12) for conv, members in (chat, group) if user in members
                    for s, t in [sent[conv][k]]]
        laptop, _ = drain(timeline, user, 0, PAGE)
        assert [m["text"] for m in laptop] == expected, (user, laptop)
        first, phone_cp, _ = timeline.sync(user, 0, 5)
        rest, final_cp = drain(timeline, user, phone_cp, 7)
        assert [m["text"] for m in first + rest] == expected
        nothing, same_cp, more = timeline.sync(user, final_cp)
        assert nothing == [] and same_cp == final_cp and not more

    # History: pages of 5 backwards rebuild the group's conversation.
    back, before = [], None
    while True:
        page = timeline.history(group[0], before, 5)
        if not page:
            break
        back.extend(page)
        before = page[-1][0]
    assert [(s, c["text"]) for s, c in reversed(back)] == sent[group[0]]
    print(f"im_timeline: {sum(len(v) for v in sent.values())} messages sent, "
          f"delivered and paged back correctly for {len(users)} users")
    return 0


if __name__ == "__main__":
    sys.exit(main())
