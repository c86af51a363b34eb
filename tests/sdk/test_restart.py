"""Durability through the official Python SDK: tables, options and rows survive a graceful
restart and a SIGKILL of the server on the same data directory; a dropped table stays dropped."""

from tablestore import INF_MAX, INF_MIN, Condition, Direction, Row, TableOptions

from conftest import create_table


def test_tables_and_rows_survive_graceful_restart(fresh_server):
    cli = fresh_server.client()
    create_table(cli, "kept", [("k", "STRING"), ("n", "INTEGER")], options=TableOptions(-1, 2, 86400), cu=(3, 4))
    create_table(cli, "dropped", [("k", "STRING")])
    for i in range(50):
        cli.put_row("kept", Row([("k", "r"), ("n", i)], [("v", i)]), Condition("IGNORE"))
    cli.delete_table("dropped")

    fresh_server.restart()
    cli = fresh_server.client()
    assert list(cli.list_table()) == ["kept"]
    desc = cli.describe_table("kept")
    assert desc.table_options.max_version == 2
    assert (desc.reserved_throughput_details.capacity_unit.read, desc.reserved_throughput_details.capacity_unit.write) == (3, 4)
    _, next_pk, rows, _ = cli.get_range("kept", Direction.FORWARD, [("k", INF_MIN), ("n", INF_MIN)], [("k", INF_MAX), ("n", INF_MAX)], max_version=1)
    assert next_pk is None
    assert [r.attribute_columns[0][1] for r in rows] == list(range(50))


def test_acknowledged_writes_survive_sigkill(fresh_server):
    cli = fresh_server.client()
    create_table(cli, "crashy", [("k", "INTEGER")])
    for i in range(20):
        cli.put_row("crashy", Row([("k", i)], [("v", str(i))]))
    cli.delete_row("crashy", Row([("k", 3)]), Condition("IGNORE"))

    fresh_server.restart(hard=True)
    cli = fresh_server.client()
    for i in range(20):
        _, row, _ = cli.get_row("crashy", [("k", i)], max_version=1)
        if i == 3:
            assert row is None
        else:
            assert row.attribute_columns[0][1] == str(i)


def test_updated_options_survive_restart(fresh_server):
    cli = fresh_server.client()
    create_table(cli, "opts", [("k", "STRING")])
    cli.update_table("opts", TableOptions(86402, 3, 86400))
    fresh_server.restart()
    desc = fresh_server.client().describe_table("opts")
    assert (desc.table_options.time_to_live, desc.table_options.max_version) == (86402, 3)


def test_writes_acknowledged_by_concurrent_clients_survive_sigkill_mid_flight(fresh_server):
    """Eight clients write (each through the group-committed single-row path) until the server
    is killed under them; after a restart every write a client saw acknowledged is there."""
    import threading
    import time

    create_table(fresh_server.client(), "inflight", [("w", "INTEGER"), ("i", "INTEGER")])
    acked = {w: [] for w in range(8)}
    stop = threading.Event()

    def writer(w):
        cli = fresh_server.client()
        i = 0
        while not stop.is_set():
            try:
                cli.put_row("inflight", Row([("w", w), ("i", i)], [("v", i)]))
            except Exception:  # the server died under us: this write is not acknowledged
                return
            acked[w].append(i)
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    fresh_server.kill()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    fresh_server.start()
    cli = fresh_server.client()
    total = 0
    for w, keys in acked.items():
        assert keys, "writer %d never got an acknowledgement" % w
        for i in keys:
            _, row, _ = cli.get_row("inflight", [("w", w), ("i", i)], max_version=1)
            assert row is not None and row.attribute_columns[0][1] == i, (w, i)
        total += len(keys)
    assert total > 8
