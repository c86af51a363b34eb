"""Versions and time through the official Python SDK (SEMANTICS §4): TTL hides expired cells
on every read path at once, UpdateTable's TTL and max_versions apply to existing data, the
version deviation bounds explicit timestamps, allow_update=false refuses UpdateRow."""

import time

import pytest
from tablestore import (
    INF_MAX, INF_MIN, BatchGetRowRequest, ComparatorType, Condition, Direction, Row,
    SingleColumnCondition, TableInBatchGetRowItem, TableOptions,
)

from conftest import assert_service_error, create_table

DAY_S = 86400
DAY_MS = DAY_S * 1000
WIDE_DEVIATION_S = 10 * DAY_S


def now_ms():
    return int(time.time() * 1000)


def columns(row):
    return {} if row is None else {name: value for name, value, _ts in row.attribute_columns}


@pytest.fixture
def expired_table(client, table_name):
    """Rows with cells two days old, then TTL lowered to one day by UpdateTable.

    r1: old=1 (2 days old), new=2 (now); r2: only old=1 (2 days old)."""
    create_table(client, table_name, [("k", "STRING")], options=TableOptions(-1, 3, WIDE_DEVIATION_S))
    old = now_ms() - 2 * DAY_MS
    client.put_row(table_name, Row([("k", "r1")], [("old", 1, old), ("new", 2)]))
    client.put_row(table_name, Row([("k", "r2")], [("old", 1, old)]))
    _, row, _ = client.get_row(table_name, [("k", "r2")], max_version=1)
    assert columns(row) == {"old": 1}
    client.update_table(table_name, TableOptions(DAY_S, 3, WIDE_DEVIATION_S))
    return table_name


def test_expired_cells_are_invisible_to_get_row(client, expired_table):
    _, row, _ = client.get_row(expired_table, [("k", "r1")], max_version=1)
    assert columns(row) == {"new": 2}
    _, row, _ = client.get_row(expired_table, [("k", "r2")], max_version=1)
    assert row is None
    _, row, _ = client.get_row(expired_table, [("k", "r1")], columns_to_get=["old"], max_version=1)
    assert row is None


def test_expired_cells_are_invisible_to_ranges_and_batches(client, expired_table):
    _, next_pk, rows, _ = client.get_range(
        expired_table, Direction.FORWARD, [("k", INF_MIN)], [("k", INF_MAX)], max_version=1)
    assert next_pk is None
    assert [(r.primary_key[0][1], columns(r)) for r in rows] == [("r1", {"new": 2})]
    request = BatchGetRowRequest()
    request.add(TableInBatchGetRowItem(expired_table, [[("k", "r1")], [("k", "r2")]], max_version=1))
    result = client.batch_get_row(request).get_result_by_table(expired_table)
    assert [r.is_ok for r in result] == [True, True]
    assert columns(result[0].row) == {"new": 2}
    assert result[1].row is None


def test_expired_cells_are_invisible_to_conditions_and_filters(client, expired_table):
    # The row whose only cell expired does not exist for EXPECT_EXIST.
    with pytest.raises(Exception) as e:
        client.update_row(expired_table, Row([("k", "r2")], {"put": [("x", 1)]}), Condition("EXPECT_EXIST"))
    assert_service_error(e, 403, "OTSConditionCheckFail", "Condition check failed.")
    # An expired column is missing for a column condition.
    needs_old = SingleColumnCondition("old", 1, ComparatorType.EQUAL, pass_if_missing=False)
    with pytest.raises(Exception) as e:
        client.put_row(expired_table, Row([("k", "r1")], [("v", 1)]), Condition("IGNORE", needs_old))
    assert_service_error(e, 403, "OTSConditionCheckFail")
    # ... and for a read filter.
    _, row, _ = client.get_row(expired_table, [("k", "r1")], column_filter=needs_old, max_version=1)
    assert row is None
    _, _, rows, _ = client.get_range(
        expired_table, Direction.FORWARD, [("k", INF_MIN)], [("k", INF_MAX)], column_filter=needs_old,
        max_version=1)
    assert rows == []
    # EXPECT_NOT_EXIST passes on the expired row.
    client.put_row(expired_table, Row([("k", "r2")], [("fresh", 3)]), Condition("EXPECT_NOT_EXIST"))
    _, row, _ = client.get_row(expired_table, [("k", "r2")], max_version=1)
    assert columns(row) == {"fresh": 3}


def test_timestamps_outside_the_deviation_or_ttl_are_rejected(client, expired_table, table_name):
    # Older than the TTL (but inside the deviation): refused.
    with pytest.raises(Exception) as e:
        client.put_row(expired_table, Row([("k", "r3")], [("v", 1, now_ms() - 2 * DAY_MS)]))
    assert_service_error(e, 400, "OTSParameterInvalid")
    other = table_name + "_dev"
    create_table(client, other, [("k", "STRING")])
    try:
        for ts in (now_ms() - 2 * DAY_MS, now_ms() + 2 * DAY_MS):
            with pytest.raises(Exception) as e:
                client.put_row(other, Row([("k", "a")], [("v", 1, ts)]))
            assert_service_error(e, 400, "OTSParameterInvalid")
        with pytest.raises(Exception) as e:
            client.update_row(other, Row([("k", "a")], {"put": [("v", 1, now_ms() + 2 * DAY_MS)]}), Condition("IGNORE"))
        assert_service_error(e, 400, "OTSParameterInvalid")
        client.put_row(other, Row([("k", "a")], [("v", 1, now_ms() - DAY_MS // 2)]))
    finally:
        client.delete_table(other)


def test_max_versions_changes_apply_to_existing_versions(client, table_name):
    create_table(client, table_name, [("k", "STRING")], options=TableOptions(-1, 3, DAY_S))
    base = now_ms() - 10_000
    for i in range(3):
        client.update_row(table_name, Row([("k", "a")], {"put": [("c", i, base + i * 1000)]}), Condition("IGNORE"))
    _, row, _ = client.get_row(table_name, [("k", "a")], max_version=3)
    assert [v for _, v, _ in row.attribute_columns] == [2, 1, 0]
    any_zero = SingleColumnCondition("c", 0, ComparatorType.EQUAL, pass_if_missing=False, latest_version_only=False)
    client.update_row(table_name, Row([("k", "a")], {"put": [("seen", 1)]}), Condition("IGNORE", any_zero))

    client.update_table(table_name, TableOptions(-1, 1, DAY_S))
    _, row, _ = client.get_row(table_name, [("k", "a")], columns_to_get=["c"], max_version=3)
    assert [v for _, v, _ in row.attribute_columns] == [2]
    _, _, rows, _ = client.get_range(table_name, Direction.FORWARD, [("k", INF_MIN)], [("k", INF_MAX)],
                                     columns_to_get=["c"], max_version=3)
    assert [v for _, v, _ in rows[0].attribute_columns] == [2]
    with pytest.raises(Exception) as e:
        client.update_row(table_name, Row([("k", "a")], {"put": [("seen", 2)]}), Condition("IGNORE", any_zero))
    assert_service_error(e, 403, "OTSConditionCheckFail")

    # Not compacted yet: raising max_versions shows the older versions again.
    client.update_table(table_name, TableOptions(-1, 3, DAY_S))
    _, row, _ = client.get_row(table_name, [("k", "a")], columns_to_get=["c"], max_version=3)
    assert [v for _, v, _ in row.attribute_columns] == [2, 1, 0]


def test_allow_update_false_refuses_update_row_only(client, table_name):
    create_table(client, table_name, [("k", "STRING")], options=TableOptions(-1, 1, DAY_S, allow_update=False))
    client.put_row(table_name, Row([("k", "a")], [("v", 1)]))
    with pytest.raises(Exception) as e:
        client.update_row(table_name, Row([("k", "a")], {"put": [("v", 2)]}), Condition("IGNORE"))
    assert_service_error(e, 400, "OTSParameterInvalid")
    client.delete_row(table_name, Row([("k", "a")]), Condition("IGNORE"))
    _, row, _ = client.get_row(table_name, [("k", "a")], max_version=1)
    assert row is None
