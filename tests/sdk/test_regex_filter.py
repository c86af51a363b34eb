"""Regex filters through the official Python SDK (SingleColumnRegexCondition with a RegexRule):
the regex's first match, or its first group, cast to STRING / INTEGER / DOUBLE and compared;
on GetRange, GetRow, BatchGetRow, inside composites, as a write condition, and the errors for
bad patterns."""

import time

import pytest
from tablestore import (
    INF_MAX,
    INF_MIN,
    BatchGetRowRequest,
    CastType,
    ComparatorType,
    CompositeColumnCondition,
    Condition,
    Direction,
    LogicalOperator,
    RegexRule,
    Row,
    SingleColumnCondition,
    SingleColumnRegexCondition,
    TableInBatchGetRowItem,
    TableOptions,
)

from conftest import assert_service_error, create_table

# Devices whose `doc` column holds a JSON-like string, as the service's docs describe.
DEVICES = [
    (1, '{"cluster":"east","load":"90","ratio":"0.75"}'),
    (2, '{"cluster":"west","load":"15","ratio":"0.20"}'),
    (3, '{"cluster":"east","load":"40","ratio":"0.55"}'),
    (4, "no fields here"),
]


@pytest.fixture
def devices(client, simple_table):
    for seq, doc in DEVICES:
        client.put_row(simple_table, Row([("uid", "dev"), ("seq", seq)], [("doc", doc), ("n", seq)]))
    client.put_row(simple_table, Row([("uid", "dev"), ("seq", 5)], [("n", 5)]))
    client.put_row(simple_table, Row([("uid", "dev"), ("seq", 6)], [("doc", 6)]))
    return simple_table


def seqs_matching(client, table, column_filter):
    _, next_pk, rows, _ = client.get_range(
        table,
        Direction.FORWARD,
        [("uid", "dev"), ("seq", INF_MIN)],
        [("uid", "dev"), ("seq", INF_MAX)],
        column_filter=column_filter,
        max_version=1,
    )
    assert next_pk is None
    return [row.primary_key[1][1] for row in rows]


def regex(regex_text, cast, comparator, value, **kwargs):
    return SingleColumnRegexCondition("doc", comparator, value, RegexRule(regex_text, cast), **kwargs)


def test_a_group_cast_to_integer_compares_as_a_number(client, devices):
    load_over = regex(r'"load":"(\d+)"', CastType.VT_INTEGER, ComparatorType.GREATER_THAN, 30)
    assert seqs_matching(client, devices, load_over) == [1, 3]
    # As text, "90" < "100" would fail; as numbers every load is below 100.
    load_under_100 = regex(r'"load":"(\d+)"', CastType.VT_INTEGER, ComparatorType.LESS_THAN, 100)
    assert seqs_matching(client, devices, load_under_100) == [1, 2, 3]


def test_a_group_cast_to_double_and_to_string(client, devices):
    ratio = regex(r'"ratio":"([0-9.]+)"', CastType.VT_DOUBLE, ComparatorType.GREATER_EQUAL, 0.55)
    assert seqs_matching(client, devices, ratio) == [1, 3]
    east = regex(r'"cluster":"(\w+)"', CastType.VT_STRING, ComparatorType.EQUAL, "east")
    assert seqs_matching(client, devices, east) == [1, 3]


def test_without_a_group_the_whole_first_match_is_compared(client, devices):
    whole = regex(r'"cluster":"\w+"', CastType.VT_STRING, ComparatorType.EQUAL, '"cluster":"west"')
    assert seqs_matching(client, devices, whole) == [2]


def test_rows_the_rule_yields_nothing_for_are_left_out(client, devices):
    # Row 4 does not match, row 5 lacks the column, row 6 holds an integer: none of them passes,
    # NOT_EQUAL included (a regex condition never passes a row it cannot evaluate).
    not_west = regex(r'"cluster":"(\w+)"', CastType.VT_STRING, ComparatorType.NOT_EQUAL, "west")
    assert seqs_matching(client, devices, not_west) == [1, 3]
    # A match that does not cast to the asked type yields nothing either.
    cluster_as_int = regex(r'"cluster":"(\w+)"', CastType.VT_INTEGER, ComparatorType.NOT_EQUAL, 0)
    assert seqs_matching(client, devices, cluster_as_int) == []


def test_regex_conditions_combine_with_plain_ones(client, devices):
    both = CompositeColumnCondition(LogicalOperator.AND)
    both.add_sub_condition(regex(r'"cluster":"(\w+)"', CastType.VT_STRING, ComparatorType.EQUAL, "east"))
    both.add_sub_condition(SingleColumnCondition("n", 2, ComparatorType.GREATER_THAN))
    assert seqs_matching(client, devices, both) == [3]
    either = CompositeColumnCondition(LogicalOperator.OR)
    either.add_sub_condition(regex(r'"load":"(\d+)"', CastType.VT_INTEGER, ComparatorType.LESS_THAN, 20))
    either.add_sub_condition(SingleColumnCondition("n", 5, ComparatorType.EQUAL, pass_if_missing=False))
    assert seqs_matching(client, devices, either) == [2, 5]


def test_get_row_and_batch_get_row_apply_the_rule(client, devices):
    busy = regex(r'"load":"(\d+)"', CastType.VT_INTEGER, ComparatorType.GREATER_THAN, 50)
    _, row, _ = client.get_row(devices, [("uid", "dev"), ("seq", 1)], column_filter=busy, max_version=1)
    assert row is not None and row.primary_key[1][1] == 1
    _, row, _ = client.get_row(devices, [("uid", "dev"), ("seq", 2)], column_filter=busy, max_version=1)
    assert row is None
    request = BatchGetRowRequest()
    keys = [[("uid", "dev"), ("seq", s)] for s in (1, 2, 3)]
    request.add(TableInBatchGetRowItem(devices, keys, column_filter=busy, max_version=1))
    result = client.batch_get_row(request).get_result_by_table(devices)
    assert [r.is_ok for r in result] == [True, True, True]
    assert [r.row is not None for r in result] == [True, False, False]


def test_any_version_may_satisfy_the_rule_when_not_only_the_latest_counts(client, table_name):
    table = create_table(
        client, table_name, [("uid", "STRING"), ("seq", "INTEGER")], options=TableOptions(max_version=2)
    )
    pk = [("uid", "dev"), ("seq", 1)]
    now_ms = int(time.time() * 1000)
    client.put_row(table, Row(pk, [("doc", "load=90", now_ms - 1000)]))
    client.update_row(table, Row(pk, {"put": [("doc", "load=10", now_ms)]}), Condition("IGNORE"))
    busy = regex(r"load=(\d+)", CastType.VT_INTEGER, ComparatorType.GREATER_THAN, 50)
    _, row, _ = client.get_row(table, pk, column_filter=busy, max_version=2)
    assert row is None
    any_version = regex(
        r"load=(\d+)", CastType.VT_INTEGER, ComparatorType.GREATER_THAN, 50, latest_version_only=False
    )
    _, row, _ = client.get_row(table, pk, column_filter=any_version, max_version=2)
    assert row is not None


def test_a_regex_condition_guards_a_write(client, simple_table):
    pk = [("uid", "dev"), ("seq", 1)]
    client.put_row(simple_table, Row(pk, [("doc", '{"state":"idle"}')]))
    busy = regex(r'"state":"(\w+)"', CastType.VT_STRING, ComparatorType.EQUAL, "busy")
    with pytest.raises(Exception) as e:
        client.update_row(simple_table, Row(pk, {"put": [("doc", '{"state":"off"}')]}), Condition("IGNORE", busy))
    assert_service_error(e, 403, "OTSConditionCheckFail", "Condition check failed.")
    idle = regex(r'"state":"(\w+)"', CastType.VT_STRING, ComparatorType.EQUAL, "idle")
    client.update_row(simple_table, Row(pk, {"put": [("doc", '{"state":"busy"}')]}), Condition("IGNORE", idle))
    _, row, _ = client.get_row(simple_table, pk, max_version=1)
    assert row.attribute_columns[0][1] == '{"state":"busy"}'


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("a" * 257, "The length of regex must be in [1, 256], but is 257."),
        ("", "The length of regex must be in [1, 256], but is 0."),
        ("(unclosed", None),
    ],
)
def test_bad_patterns_are_refused(client, devices, pattern, message):
    bad = regex(pattern, CastType.VT_STRING, ComparatorType.EQUAL, "x")
    with pytest.raises(Exception) as e:
        seqs_matching(client, devices, bad)
    assert_service_error(e, 400, "OTSParameterInvalid", message)
    if message is None:
        assert e.value.get_error_message().startswith("Invalid regex '(unclosed'")
