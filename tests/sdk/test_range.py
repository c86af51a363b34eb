"""GetRange through the official Python SDK: directions, INF bounds, limits, paging with
next_start_primary_key, and the documented errors."""

import pytest
from tablestore import INF_MAX, INF_MIN, Direction, Row

from conftest import assert_service_error


@pytest.fixture
def filled(client, simple_table):
    """10 rows: uid in {a, b}, seq 0..4."""
    for uid in ("a", "b"):
        for seq in range(5):
            client.put_row(simple_table, Row([("uid", uid), ("seq", seq)], [("v", f"{uid}{seq}")]))
    return simple_table


def keys(rows):
    return [(r.primary_key[0][1], r.primary_key[1][1]) for r in rows]


def test_forward_scan_over_everything(client, filled):
    consumed, next_pk, rows, _ = client.get_range(
        filled, Direction.FORWARD, [("uid", INF_MIN), ("seq", INF_MIN)], [("uid", INF_MAX), ("seq", INF_MAX)], max_version=1
    )
    assert next_pk is None
    assert keys(rows) == [(u, s) for u in ("a", "b") for s in range(5)]
    assert rows[0].attribute_columns[0][:2] == ("v", "a0")
    assert consumed.read >= 1


def test_forward_range_is_start_inclusive_end_exclusive(client, filled):
    _, next_pk, rows, _ = client.get_range(
        filled, Direction.FORWARD, [("uid", "a"), ("seq", 2)], [("uid", "b"), ("seq", 1)], max_version=1
    )
    assert keys(rows) == [("a", 2), ("a", 3), ("a", 4), ("b", 0)]
    assert next_pk is None


def test_backward_range_is_descending(client, filled):
    _, next_pk, rows, _ = client.get_range(
        filled, Direction.BACKWARD, [("uid", "b"), ("seq", 1)], [("uid", "a"), ("seq", 2)], max_version=1
    )
    assert keys(rows) == [("b", 1), ("b", 0), ("a", 4), ("a", 3)]
    assert next_pk is None


def test_limit_pages_with_next_start_primary_key(client, filled):
    start, end = [("uid", INF_MIN), ("seq", INF_MIN)], [("uid", INF_MAX), ("seq", INF_MAX)]
    seen = []
    pages = 0
    while start is not None:
        _, start, rows, _ = client.get_range(filled, Direction.FORWARD, start, end, limit=3, max_version=1)
        seen += keys(rows)
        pages += 1
    assert pages == 4
    assert seen == [(u, s) for u in ("a", "b") for s in range(5)]


def test_backward_paging(client, filled):
    start, end = [("uid", INF_MAX), ("seq", INF_MAX)], [("uid", INF_MIN), ("seq", INF_MIN)]
    _, next_pk, rows, _ = client.get_range(filled, Direction.BACKWARD, start, end, limit=4, max_version=1)
    assert keys(rows) == [("b", 4), ("b", 3), ("b", 2), ("b", 1)]
    assert next_pk == [("uid", "b"), ("seq", 0)]


def test_empty_range_has_no_next_key(client, simple_table):
    consumed, next_pk, rows, _ = client.get_range(
        simple_table, Direction.FORWARD, [("uid", "x"), ("seq", INF_MIN)], [("uid", "x"), ("seq", INF_MAX)], max_version=1
    )
    assert rows == [] and next_pk is None
    assert (consumed.read, consumed.write) == (1, 0)


def test_columns_to_get_in_range(client, simple_table):
    client.put_row(simple_table, Row([("uid", "c"), ("seq", 1)], [("x", 1), ("y", 2)]))
    _, _, rows, _ = client.get_range(
        simple_table, Direction.FORWARD, [("uid", "c"), ("seq", INF_MIN)], [("uid", "c"), ("seq", INF_MAX)],
        columns_to_get=["y"], max_version=1,
    )
    assert [(c[0], c[1]) for c in rows[0].attribute_columns] == [("y", 2)]


@pytest.mark.parametrize("start,end", [
    ([("uid", "b"), ("seq", 0)], [("uid", "a"), ("seq", 0)]),
    ([("uid", "a"), ("seq", 1)], [("uid", "a"), ("seq", 1)]),
])
def test_forward_with_begin_not_below_end_fails(client, simple_table, start, end):
    with pytest.raises(Exception) as e:
        client.get_range(simple_table, Direction.FORWARD, start, end, max_version=1)
    assert_service_error(e, 400, "OTSParameterInvalid", "Begin key must less than end key in FORWARD")


def test_backward_with_begin_not_above_end_fails(client, simple_table):
    with pytest.raises(Exception) as e:
        client.get_range(simple_table, Direction.BACKWARD, [("uid", "a"), ("seq", 0)], [("uid", "b"), ("seq", 0)], max_version=1)
    assert_service_error(e, 400, "OTSParameterInvalid", "Begin key must more than end key in BACKWARD")


@pytest.mark.parametrize("limit", [0, -1])
def test_non_positive_limit_fails(client, simple_table, limit):
    with pytest.raises(Exception) as e:
        client.get_range(
            simple_table, Direction.FORWARD, [("uid", INF_MIN), ("seq", INF_MIN)], [("uid", INF_MAX), ("seq", INF_MAX)],
            limit=limit, max_version=1,
        )
    assert_service_error(e, 400, "OTSParameterInvalid", "The limit must be greater than 0.")


def test_range_bound_must_match_the_schema(client, simple_table):
    with pytest.raises(Exception) as e:
        client.get_range(simple_table, Direction.FORWARD, [("uid", INF_MIN)], [("uid", INF_MAX), ("seq", INF_MAX)], max_version=1)
    assert_service_error(e, 400, "OTSInvalidPK", "Validate PK size fail. Input: 1, Meta: 2.")


def test_range_over_missing_table_is_404(client):
    with pytest.raises(Exception) as e:
        client.get_range("no_such_table", Direction.FORWARD, [("k", INF_MIN)], [("k", INF_MAX)], max_version=1)
    assert_service_error(e, 404, "OTSObjectNotExist", "Requested table does not exist.")


def _fill_many(client, table, count):
    from tablestore import BatchWriteRowRequest, Condition, PutRowItem, TableInBatchWriteRowItem
    for first in range(0, count, 200):
        batch = BatchWriteRowRequest()
        batch.add(TableInBatchWriteRowItem(table, [
            PutRowItem(Row([("uid", "m"), ("seq", seq)], [("v", seq)]), Condition("IGNORE"))
            for seq in range(first, min(first + 200, count))
        ]))
        assert client.batch_write_row(batch).is_all_succeed()


def test_filter_matching_nothing_pages_by_the_scan_budget(client, simple_table):
    """Filtered-out rows count toward the 5000-row budget: an empty page still carries
    next_start_primary_key, and the client's loop ends (SEMANTICS §7)."""
    from tablestore import ComparatorType, SingleColumnCondition
    _fill_many(client, simple_table, 5200)
    never = SingleColumnCondition("v", -1, ComparatorType.EQUAL, pass_if_missing=False)
    start, end = [("uid", INF_MIN), ("seq", INF_MIN)], [("uid", INF_MAX), ("seq", INF_MAX)]
    _, next_pk, rows, _ = client.get_range(simple_table, Direction.FORWARD, start, end, column_filter=never, max_version=1)
    assert rows == []
    assert next_pk == [("uid", "m"), ("seq", 5000)]
    pages = 1
    while next_pk is not None:
        _, next_pk, rows, _ = client.get_range(simple_table, Direction.FORWARD, next_pk, end, column_filter=never, max_version=1)
        assert rows == []
        pages += 1
    assert pages == 2
    # A filter matching a few rows far apart: the loop collects exactly them.
    some = SingleColumnCondition("v", 5100, ComparatorType.GREATER_EQUAL, pass_if_missing=False)
    found, next_pk = [], start
    while next_pk is not None:
        _, next_pk, rows, _ = client.get_range(simple_table, Direction.FORWARD, next_pk, end, column_filter=some, max_version=1)
        found += [r.primary_key[1][1] for r in rows]
    assert found == list(range(5100, 5200))
    # limit counts returned rows, not scanned ones.
    near = [("uid", "m"), ("seq", 5050)]
    _, next_pk, rows, _ = client.get_range(simple_table, Direction.FORWARD, near, end, column_filter=some, limit=7, max_version=1)
    assert [r.primary_key[1][1] for r in rows] == list(range(5100, 5107))
    assert next_pk == [("uid", "m"), ("seq", 5107)]
    # xget_range (the SDK's paging iterator) terminates over empty pages.
    from tablestore import CapacityUnit
    got = list(client.xget_range(simple_table, Direction.FORWARD, start, end, CapacityUnit(0, 0), column_filter=never, max_version=1))
    assert got == []
