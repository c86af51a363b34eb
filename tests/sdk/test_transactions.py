"""Local transactions through the official Python SDK (SEMANTICS §14): read isolation,
commit, abort, partition locking, invalid ids and idle expiry."""

import os
import shutil
import tempfile
import time

import pytest
from tablestore import INF_MAX, INF_MIN, BatchWriteRowRequest, Condition, Direction, PutRowItem
from tablestore import PK_AUTO_INCR, Row, RowExistenceExpectation, TableInBatchWriteRowItem, UpdateRowItem

from conftest import OtsdServer, assert_service_error, create_table

INVALID = "TransactionID is invalid."


def value_of(row, column="v"):
    if row is None:
        return None
    for name, value, _ts in row.attribute_columns:
        if name == column:
            return value
    return None


def get(client, table, uid, seq, txn=None):
    _, row, _ = client.get_row(table, [("uid", uid), ("seq", seq)], max_version=1, transaction_id=txn)
    return value_of(row)


def test_writes_are_seen_only_with_the_transaction_id(client, simple_table):
    client.put_row(simple_table, Row([("uid", "u"), ("seq", 1)], [("v", "origin value")]))
    txn = client.start_local_transaction(simple_table, [("uid", "u")])
    client.put_row(simple_table, Row([("uid", "u"), ("seq", 1)], [("v", "new value")]), transaction_id=txn)
    client.put_row(simple_table, Row([("uid", "u"), ("seq", 2)], [("v", "fresh")]), transaction_id=txn)
    assert get(client, simple_table, "u", 1, txn) == "new value"
    assert get(client, simple_table, "u", 1) == "origin value"
    assert get(client, simple_table, "u", 2) is None
    # GetRange inside the transaction merges buffered rows over committed ones.
    _, next_pk, rows, _ = client.get_range(
        simple_table, Direction.FORWARD, [("uid", "u"), ("seq", INF_MIN)], [("uid", "u"), ("seq", INF_MAX)],
        max_version=1, transaction_id=txn,
    )
    assert next_pk is None
    assert [(r.primary_key[1][1], value_of(r)) for r in rows] == [(1, "new value"), (2, "fresh")]
    _, _, rows, _ = client.get_range(
        simple_table, Direction.FORWARD, [("uid", "u"), ("seq", INF_MIN)], [("uid", "u"), ("seq", INF_MAX)],
        max_version=1,
    )
    assert [value_of(r) for r in rows] == ["origin value"]
    client.abort_transaction(txn)


def test_commit_makes_every_write_visible_at_once(client, simple_table):
    client.put_row(simple_table, Row([("uid", "c"), ("seq", 9)], [("v", "gone soon")]))
    txn = client.start_local_transaction(simple_table, [("uid", "c")])
    client.put_row(simple_table, Row([("uid", "c"), ("seq", 1)], [("v", "one")]), transaction_id=txn)
    client.update_row(
        simple_table, Row([("uid", "c"), ("seq", 1)], {"put": [("w", 5)], "increment": [("n", 3)]}),
        Condition(RowExistenceExpectation.EXPECT_EXIST), transaction_id=txn,
    )
    client.delete_row(simple_table, Row([("uid", "c"), ("seq", 9)]), Condition(RowExistenceExpectation.IGNORE),
                      transaction_id=txn)
    batch = BatchWriteRowRequest()
    batch.add(TableInBatchWriteRowItem(simple_table, [
        PutRowItem(Row([("uid", "c"), ("seq", 2)], [("v", "two")]), Condition(RowExistenceExpectation.IGNORE)),
        UpdateRowItem(Row([("uid", "c"), ("seq", 1)], {"increment": [("n", 4)]}),
                      Condition(RowExistenceExpectation.IGNORE)),
    ]))
    batch.transaction_id = txn
    result = client.batch_write_row(batch)
    assert result.is_all_succeed()
    assert get(client, simple_table, "c", 1) is None
    assert get(client, simple_table, "c", 9) == "gone soon"
    client.commit_transaction(txn)
    _, row, _ = client.get_row(simple_table, [("uid", "c"), ("seq", 1)], max_version=1)
    assert {n: v for n, v, _ in row.attribute_columns} == {"v": "one", "w": 5, "n": 7}
    assert get(client, simple_table, "c", 2) == "two"
    assert get(client, simple_table, "c", 9) is None
    # The id is spent and the partition free again.
    with pytest.raises(Exception) as e:
        client.commit_transaction(txn)
    assert_service_error(e, 400, "OTSParameterInvalid", INVALID)
    client.put_row(simple_table, Row([("uid", "c"), ("seq", 3)], [("v", "after")]))


def test_a_pk_only_row_stays_inside_the_transaction_when_its_later_column_is_deleted(client, simple_table):
    # The committed row was put without attributes, then given a column.
    client.put_row(simple_table, Row([("uid", "m"), ("seq", 1)], []))
    client.update_row(simple_table, Row([("uid", "m"), ("seq", 1)], {"put": [("v", "x")]}), Condition("IGNORE"))
    txn = client.start_local_transaction(simple_table, [("uid", "m")])
    client.update_row(simple_table, Row([("uid", "m"), ("seq", 1)], {"delete_all": ["v"]}), Condition("IGNORE"),
                      transaction_id=txn)
    # Read your writes: the row is still there (its PutRow marker), only without the column,
    # as it will be once committed.
    _, row, _ = client.get_row(simple_table, [("uid", "m"), ("seq", 1)], max_version=1, transaction_id=txn)
    assert row is not None and row.attribute_columns == []
    client.commit_transaction(txn)
    _, row, _ = client.get_row(simple_table, [("uid", "m"), ("seq", 1)], max_version=1)
    assert row is not None and row.attribute_columns == []


def test_abort_discards_the_writes(client, simple_table):
    client.put_row(simple_table, Row([("uid", "a"), ("seq", 1)], [("v", "kept")]))
    txn = client.start_local_transaction(simple_table, [("uid", "a")])
    client.put_row(simple_table, Row([("uid", "a"), ("seq", 1)], [("v", "dropped")]), transaction_id=txn)
    client.abort_transaction(txn)
    assert get(client, simple_table, "a", 1) == "kept"
    with pytest.raises(Exception) as e:
        get(client, simple_table, "a", 1, txn)
    assert_service_error(e, 400, "OTSParameterInvalid", INVALID)


def test_a_held_partition_refuses_other_writers_and_transactions(client, simple_table):
    txn = client.start_local_transaction(simple_table, [("uid", "p")])
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row([("uid", "p"), ("seq", 1)], [("v", "x")]))
    assert_service_error(e, 409, "OTSRowOperationConflict")
    with pytest.raises(Exception) as e:
        client.start_local_transaction(simple_table, [("uid", "p")])
    assert_service_error(e, 409, "OTSRowOperationConflict")
    # Batches report the conflict per row.
    batch = BatchWriteRowRequest()
    batch.add(TableInBatchWriteRowItem(simple_table, [
        PutRowItem(Row([("uid", "p"), ("seq", 2)], [("v", "x")]), Condition(RowExistenceExpectation.IGNORE)),
        PutRowItem(Row([("uid", "q"), ("seq", 2)], [("v", "x")]), Condition(RowExistenceExpectation.IGNORE)),
    ]))
    result = client.batch_write_row(batch)
    succeeded, failed = result.get_put()
    assert [r.error_code for r in failed] == ["OTSRowOperationConflict"]
    assert len(succeeded) == 1
    # Other partitions are free; reads without the id are never blocked.
    client.put_row(simple_table, Row([("uid", "q"), ("seq", 1)], [("v", "x")]))
    assert get(client, simple_table, "p", 1) is None
    # Rows outside the transaction's partition and auto-increment are refused.
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row([("uid", "q"), ("seq", 1)], [("v", "y")]), transaction_id=txn)
    assert_service_error(e, 400, "OTSParameterInvalid")
    with pytest.raises(Exception) as e:
        get(client, simple_table, "q", 1, txn)
    assert_service_error(e, 400, "OTSParameterInvalid")
    client.commit_transaction(txn)
    client.put_row(simple_table, Row([("uid", "p"), ("seq", 1)], [("v", "x")]))


def test_auto_increment_is_refused_inside_a_transaction(client, table_name):
    create_table(client, table_name, [("uid", "STRING"), ("seq", "INTEGER", PK_AUTO_INCR)])
    txn = client.start_local_transaction(table_name, [("uid", "a")])
    with pytest.raises(Exception) as e:
        client.put_row(table_name, Row([("uid", "a"), ("seq", PK_AUTO_INCR)], [("v", 1)]), transaction_id=txn)
    assert_service_error(e, 400, "OTSParameterInvalid")
    client.abort_transaction(txn)


def test_unknown_ids_and_bad_keys_are_rejected(client, simple_table):
    for call in (
        lambda: client.commit_transaction("no-such-transaction"),
        lambda: client.abort_transaction("no-such-transaction"),
        lambda: client.put_row(simple_table, Row([("uid", "z"), ("seq", 1)], [("v", 1)]),
                               transaction_id="no-such-transaction"),
        lambda: get(client, simple_table, "z", 1, "no-such-transaction"),
    ):
        with pytest.raises(Exception) as e:
            call()
        assert_service_error(e, 400, "OTSParameterInvalid", INVALID)
    with pytest.raises(Exception) as e:
        client.start_local_transaction(simple_table, [("uid", "z"), ("seq", 1)])
    assert_service_error(e, 400, "OTSInvalidPK")
    with pytest.raises(Exception) as e:
        client.start_local_transaction("no_such_table", [("uid", "z")])
    assert_service_error(e, 404, "OTSObjectNotExist")


@pytest.fixture
def short_txn_server():
    """A server whose transactions expire after 1 s of idleness."""
    root = tempfile.mkdtemp(prefix="otsd-sdk-txn-")
    server = OtsdServer(os.path.join(root, "data"), env={"OTSD_TXN_TIMEOUT_SECS": "1"}).start()
    yield server
    server.kill()
    shutil.rmtree(root, ignore_errors=True)


def test_an_idle_transaction_expires_and_frees_its_partition(short_txn_server):
    client = short_txn_server.client()
    table = create_table(client, "txn_expiry", [("uid", "STRING"), ("seq", "INTEGER")])
    txn = client.start_local_transaction(table, [("uid", "e")])
    client.put_row(table, Row([("uid", "e"), ("seq", 1)], [("v", "lost")]), transaction_id=txn)
    time.sleep(2.5)
    with pytest.raises(Exception) as e:
        client.commit_transaction(txn)
    assert_service_error(e, 400, "OTSParameterInvalid", INVALID)
    assert get(client, table, "e", 1) is None
    client.put_row(table, Row([("uid", "e"), ("seq", 1)], [("v", "free")]))
    # A transaction that keeps working does not expire.
    txn = client.start_local_transaction(table, [("uid", "e")])
    for i in range(4):
        time.sleep(0.5)
        client.put_row(table, Row([("uid", "e"), ("seq", 1)], [("v", f"w{i}")]), transaction_id=txn)
    client.commit_transaction(txn)
    assert get(client, table, "e", 1) == "w3"
