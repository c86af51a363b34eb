"""Auto-increment primary keys through the official Python SDK (SEMANTICS §10, §2):
strictly increasing per partition across a hard restart, and placeholders refused where
a concrete key is needed."""

import pytest
from tablestore import (
    INF_MAX, INF_MIN, PK_AUTO_INCR, BatchGetRowRequest, Condition, Direction, ReturnType, Row,
    TableInBatchGetRowItem,
)

from conftest import assert_service_error, create_table


def put_auto(client, table, uid):
    _, ret = client.put_row(table, Row([("uid", uid), ("seq", PK_AUTO_INCR)], [("v", 1)]),
                            return_type=ReturnType.RT_PK)
    assert ret.primary_key[0] == ("uid", uid)
    return ret.primary_key[1][1]


def test_generated_values_keep_increasing_across_a_hard_restart(fresh_server):
    client = fresh_server.client()
    table = create_table(client, "auto_restart", [("uid", "STRING"), ("seq", "INTEGER", PK_AUTO_INCR)])
    before = [put_auto(client, table, "a") for _ in range(5)]
    other = put_auto(client, table, "b")
    fresh_server.restart(hard=True)
    client = fresh_server.client()
    after = [put_auto(client, table, "a") for _ in range(5)]
    values = before + after
    assert all(isinstance(v, int) for v in values)
    assert values == sorted(values) and len(set(values)) == len(values), values
    assert put_auto(client, table, "b") > other
    _, _, rows, _ = client.get_range(table, Direction.FORWARD, [("uid", "a"), ("seq", INF_MIN)],
                                     [("uid", "a"), ("seq", INF_MAX)], max_version=1)
    assert [r.primary_key[1][1] for r in rows] == values


@pytest.fixture
def auto_table(client, table_name):
    return create_table(client, table_name, [("uid", "STRING"), ("seq", "INTEGER", PK_AUTO_INCR)])


def test_placeholders_are_refused_where_a_concrete_key_is_needed(client, auto_table):
    simple_table = create_table(client, auto_table + "_plain", [("uid", "STRING"), ("seq", "INTEGER")])
    placeholder = [("uid", "a"), ("seq", PK_AUTO_INCR)]
    calls = [
        lambda: client.get_row(auto_table, placeholder, max_version=1),
        lambda: client.delete_row(auto_table, Row(placeholder), Condition("IGNORE")),
        lambda: client.get_range(auto_table, Direction.FORWARD, placeholder, [("uid", "b"), ("seq", INF_MAX)],
                                 max_version=1),
        # On a column that is not auto-increment.
        lambda: client.put_row(simple_table, Row(placeholder, [("v", 1)])),
        # With a row condition other than IGNORE.
        lambda: client.put_row(auto_table, Row(placeholder, [("v", 1)]), Condition("EXPECT_NOT_EXIST")),
    ]
    for call in calls:
        with pytest.raises(Exception) as e:
            call()
        err = e.value
        assert err.get_http_status() == 400, (err.get_error_code(), err.get_error_message())
        assert err.get_error_code() in ("OTSParameterInvalid", "OTSInvalidPK")
    request = BatchGetRowRequest()
    request.add(TableInBatchGetRowItem(auto_table, [placeholder], max_version=1))
    result = client.batch_get_row(request).get_result_by_table(auto_table)
    assert [r.is_ok for r in result] == [False]
    client.delete_table(simple_table)


def test_placeholder_with_ignore_and_rt_none_still_writes(client, auto_table):
    client.put_row(auto_table, Row([("uid", "n"), ("seq", PK_AUTO_INCR)], [("v", 1)]), Condition("IGNORE"))
    _, _, rows, _ = client.get_range(auto_table, Direction.FORWARD, [("uid", "n"), ("seq", INF_MIN)],
                                     [("uid", "n"), ("seq", INF_MAX)], max_version=1)
    assert len(rows) == 1 and rows[0].attribute_columns[0][:2] == ("v", 1)
