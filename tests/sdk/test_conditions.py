"""Column conditions on writes and column filters on reads through the official Python
SDK: single and composite conditions, pass_if_missing, latest_version_only."""

import time

import pytest
from tablestore import (
    INF_MAX,
    INF_MIN,
    ComparatorType,
    CompositeColumnCondition,
    Condition,
    Direction,
    LogicalOperator,
    Row,
    SingleColumnCondition,
    TableOptions,
)

from conftest import assert_service_error, create_table


def test_put_with_a_passing_and_a_failing_column_condition(client, simple_table):
    pk = [("uid", "cc"), ("seq", 1)]
    client.put_row(simple_table, Row(pk, [("n", 5)]))
    ok = Condition("EXPECT_EXIST", SingleColumnCondition("n", 5, ComparatorType.EQUAL))
    client.put_row(simple_table, Row(pk, [("n", 6)]), ok)
    bad = Condition("IGNORE", SingleColumnCondition("n", 100, ComparatorType.GREATER_THAN))
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row(pk, [("n", 7)]), bad)
    assert_service_error(e, 403, "OTSConditionCheckFail", "Condition check failed.")
    _, row, _ = client.get_row(simple_table, pk, max_version=1)
    assert row.attribute_columns[0][1] == 6


def test_pass_if_missing_decides_for_absent_columns(client, simple_table):
    pk = [("uid", "pim"), ("seq", 1)]
    client.put_row(simple_table, Row(pk, [("a", 1)]))
    passes = Condition("IGNORE", SingleColumnCondition("zz", 1, ComparatorType.EQUAL, pass_if_missing=True))
    client.update_row(simple_table, Row(pk, {"put": [("b", 2)]}), passes)
    fails = Condition("IGNORE", SingleColumnCondition("zz", 1, ComparatorType.EQUAL, pass_if_missing=False))
    with pytest.raises(Exception) as e:
        client.update_row(simple_table, Row(pk, {"put": [("b", 3)]}), fails)
    assert_service_error(e, 403, "OTSConditionCheckFail", "Condition check failed.")


def test_composite_condition_on_delete(client, simple_table):
    pk = [("uid", "comp"), ("seq", 1)]
    client.put_row(simple_table, Row(pk, [("a", 1), ("s", "x")]))
    cond = CompositeColumnCondition(LogicalOperator.AND)
    cond.add_sub_condition(SingleColumnCondition("a", 1, ComparatorType.EQUAL))
    cond.add_sub_condition(SingleColumnCondition("s", "y", ComparatorType.EQUAL))
    with pytest.raises(Exception) as e:
        client.delete_row(simple_table, Row(pk), Condition("IGNORE", cond))
    assert_service_error(e, 403, "OTSConditionCheckFail", "Condition check failed.")
    cond = CompositeColumnCondition(LogicalOperator.OR)
    cond.add_sub_condition(SingleColumnCondition("a", 1, ComparatorType.EQUAL))
    cond.add_sub_condition(SingleColumnCondition("s", "y", ComparatorType.EQUAL))
    client.delete_row(simple_table, Row(pk), Condition("IGNORE", cond))
    _, row, _ = client.get_row(simple_table, pk, max_version=1)
    assert row is None


def test_latest_version_only_false_matches_any_version(client, table_name):
    create_table(client, table_name, [("k", "STRING")], options=TableOptions(-1, 3, 86400))
    now = int(time.time() * 1000)
    pk = [("k", "v")]
    client.put_row(table_name, Row(pk, [("c", 1, now - 2000), ("c", 2, now - 1000)]))
    latest = Condition("IGNORE", SingleColumnCondition("c", 1, ComparatorType.EQUAL, latest_version_only=True))
    with pytest.raises(Exception):
        client.update_row(table_name, Row(pk, {"put": [("d", 1)]}), latest)
    any_version = Condition("IGNORE", SingleColumnCondition("c", 1, ComparatorType.EQUAL, latest_version_only=False))
    client.update_row(table_name, Row(pk, {"put": [("d", 1)]}), any_version)


def test_batch_write_reports_column_condition_failures_per_row(client, simple_table):
    from tablestore import BatchWriteRowRequest, PutRowItem, TableInBatchWriteRowItem
    pk = [("uid", "bcc"), ("seq", 1)]
    client.put_row(simple_table, Row(pk, [("a", 1)]))
    req = BatchWriteRowRequest()
    req.add(TableInBatchWriteRowItem(simple_table, [
        PutRowItem(Row(pk, [("a", 2)]), Condition("IGNORE", SingleColumnCondition("a", 9, ComparatorType.EQUAL))),
    ]))
    item = client.batch_write_row(req).get_put_by_table(simple_table)[0]
    assert (item.is_ok, item.error_code, item.error_message) == (False, "OTSConditionCheckFail", "Condition check failed.")


def test_get_row_filter_hides_non_matching_rows(client, simple_table):
    pk = [("uid", "flt"), ("seq", 1)]
    client.put_row(simple_table, Row(pk, [("a", 1), ("b", "x")]))
    _, row, _ = client.get_row(simple_table, pk, column_filter=SingleColumnCondition("a", 2, ComparatorType.EQUAL), max_version=1)
    assert row is None
    _, row, _ = client.get_row(
        simple_table, pk, columns_to_get=["b"], column_filter=SingleColumnCondition("a", 1, ComparatorType.EQUAL), max_version=1
    )
    assert [(c[0], c[1]) for c in row.attribute_columns] == [("b", "x")]


def test_get_range_filter(client, simple_table):
    for i in range(6):
        client.put_row(simple_table, Row([("uid", "gr"), ("seq", i)], [("n", i)]))
    _, next_pk, rows, _ = client.get_range(
        simple_table, Direction.FORWARD, [("uid", "gr"), ("seq", INF_MIN)], [("uid", "gr"), ("seq", INF_MAX)],
        column_filter=SingleColumnCondition("n", 3, ComparatorType.GREATER_EQUAL), max_version=1,
    )
    assert [r.primary_key[1][1] for r in rows] == [3, 4, 5]
    assert next_pk is None
