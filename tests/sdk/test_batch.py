"""BatchGetRow and BatchWriteRow through the official Python SDK: per-row results, per-row
errors with HTTP 200, request-level errors, and the row-count limits."""

import pytest
from tablestore import (
    BatchGetRowRequest,
    BatchWriteRowRequest,
    ComparatorType,
    Condition,
    DeleteRowItem,
    PK_AUTO_INCR,
    PutRowItem,
    ReturnType,
    Row,
    SingleColumnCondition,
    TableInBatchGetRowItem,
    TableInBatchWriteRowItem,
    UpdateRowItem,
)

from conftest import assert_service_error, create_table


def test_batch_write_then_batch_get(client, simple_table):
    items = [PutRowItem(Row([("uid", "bw"), ("seq", i)], [("v", i)]), Condition("IGNORE")) for i in range(5)]
    req = BatchWriteRowRequest()
    req.add(TableInBatchWriteRowItem(simple_table, items))
    resp = client.batch_write_row(req)
    assert resp.is_all_succeed()
    assert len(resp.get_put_by_table(simple_table)) == 5

    get = BatchGetRowRequest()
    pks = [[("uid", "bw"), ("seq", i)] for i in (4, 0, 9)]
    get.add(TableInBatchGetRowItem(simple_table, pks, max_version=1))
    result = client.batch_get_row(get).get_result_by_table(simple_table)
    assert [r.is_ok for r in result] == [True, True, True]
    assert result[0].row.attribute_columns[0][1] == 4
    assert result[1].row.attribute_columns[0][1] == 0
    assert result[2].row is None


def test_batch_write_mixes_put_update_delete_in_order(client, simple_table):
    pk = [("uid", "mix"), ("seq", 1)]
    req = BatchWriteRowRequest()
    req.add(TableInBatchWriteRowItem(simple_table, [
        PutRowItem(Row(pk, [("a", 1)]), Condition("IGNORE")),
        UpdateRowItem(Row(pk, {"put": [("b", 2)]}), Condition("IGNORE")),
        DeleteRowItem(Row([("uid", "mix"), ("seq", 2)]), Condition("IGNORE")),
    ]))
    resp = client.batch_write_row(req)
    assert resp.is_all_succeed()
    _, row, _ = client.get_row(simple_table, pk, max_version=1)
    assert [(c[0], c[1]) for c in row.attribute_columns] == [("a", 1), ("b", 2)]


def test_batch_write_reports_condition_failures_per_row(client, simple_table):
    req = BatchWriteRowRequest()
    req.add(TableInBatchWriteRowItem(simple_table, [
        PutRowItem(Row([("uid", "pr"), ("seq", 1)], [("a", 1)]), Condition("IGNORE")),
        PutRowItem(Row([("uid", "pr"), ("seq", 2)], [("a", 1)]), Condition("EXPECT_EXIST")),
    ]))
    resp = client.batch_write_row(req)
    assert not resp.is_all_succeed()
    puts = resp.get_put_by_table(simple_table)
    assert puts[0].is_ok
    assert not puts[1].is_ok
    assert (puts[1].error_code, puts[1].error_message) == ("OTSConditionCheckFail", "Condition check failed.")


def test_batch_write_reports_bad_keys_and_missing_tables_per_row(client, simple_table):
    req = BatchWriteRowRequest()
    req.add(TableInBatchWriteRowItem(simple_table, [PutRowItem(Row([("uid", "x")], [("a", 1)]), Condition("IGNORE"))]))
    req.add(TableInBatchWriteRowItem("no_such_table", [PutRowItem(Row([("k", "x")], [("a", 1)]), Condition("IGNORE"))]))
    resp = client.batch_write_row(req)
    bad_pk = resp.get_put_by_table(simple_table)[0]
    assert (bad_pk.error_code, bad_pk.error_message) == ("OTSInvalidPK", "Validate PK size fail. Input: 1, Meta: 2.")
    missing = resp.get_put_by_table("no_such_table")[0]
    assert (missing.error_code, missing.error_message) == ("OTSObjectNotExist", "Requested table does not exist.")


def test_batch_get_reports_errors_per_row(client, simple_table):
    req = BatchGetRowRequest()
    req.add(TableInBatchGetRowItem(simple_table, [[("uid", "a"), ("seq", 1)], [("seq", 1), ("uid", "a")]], max_version=1))
    req.add(TableInBatchGetRowItem("no_such_table", [[("k", "a")]], max_version=1))
    resp = client.batch_get_row(req)
    rows = resp.get_result_by_table(simple_table)
    assert rows[0].is_ok and rows[0].row is None
    assert not rows[1].is_ok
    assert (rows[1].error_code, rows[1].error_message) == ("OTSInvalidPK", "Validate PK name fail. Input: seq, Meta: uid.")
    missing = resp.get_result_by_table("no_such_table")[0]
    assert (missing.error_code, missing.error_message) == ("OTSObjectNotExist", "Requested table does not exist.")


def test_batch_get_table_with_no_keys_is_accepted(client, simple_table):
    req = BatchGetRowRequest()
    req.add(TableInBatchGetRowItem(simple_table, [], max_version=1))
    resp = client.batch_get_row(req)
    assert resp.get_result_by_table(simple_table) == []


def test_empty_batch_get_fails(client):
    with pytest.raises(Exception) as e:
        client.batch_get_row(BatchGetRowRequest())
    assert_service_error(e, 400, "OTSParameterInvalid", "No row specified in the request of BatchGetRow.")


def test_empty_batch_write_fails(client):
    with pytest.raises(Exception) as e:
        client.batch_write_row(BatchWriteRowRequest())
    assert_service_error(e, 400, "OTSParameterInvalid", "No row is specified in BatchWriteRow.")


def test_batch_write_table_without_rows_fails(client, simple_table):
    req = BatchWriteRowRequest()
    req.add(TableInBatchWriteRowItem(simple_table, []))
    with pytest.raises(Exception) as e:
        client.batch_write_row(req)
    assert_service_error(e, 400, "OTSParameterInvalid", f"No operation is specified for table: '{simple_table}'.")


def test_batch_get_over_100_rows_fails(client, simple_table):
    req = BatchGetRowRequest()
    req.add(TableInBatchGetRowItem(simple_table, [[("uid", "a"), ("seq", i)] for i in range(101)], max_version=1))
    with pytest.raises(Exception) as e:
        client.batch_get_row(req)
    assert_service_error(e, 400, "OTSParameterInvalid", "Rows count exceeds the upper limit: 100.")


def test_batch_write_over_200_rows_fails(client, simple_table):
    req = BatchWriteRowRequest()
    items = [PutRowItem(Row([("uid", "a"), ("seq", i)], [("v", i)]), Condition("IGNORE")) for i in range(201)]
    req.add(TableInBatchWriteRowItem(simple_table, items))
    with pytest.raises(Exception) as e:
        client.batch_write_row(req)
    assert_service_error(e, 400, "OTSParameterInvalid", "Rows count exceeds the upper limit: 200.")


def test_same_row_twice_in_one_batch_is_applied_in_order(client, table_name):
    create_table(client, table_name, [("k", "STRING")])
    req = BatchWriteRowRequest()
    req.add(TableInBatchWriteRowItem(table_name, [
        PutRowItem(Row([("k", "r")], [("a", 1)]), Condition("IGNORE")),
        DeleteRowItem(Row([("k", "r")]), Condition("IGNORE")),
    ]))
    assert client.batch_write_row(req).is_all_succeed()
    _, row, _ = client.get_row(table_name, [("k", "r")], max_version=1)
    assert row is None


def test_later_rows_of_a_batch_see_earlier_writes_to_the_same_row(client, table_name):
    """Rows share commits, but a row written twice still sees its first write: the put makes
    the EXPECT_EXIST updates pass, and the second update sees the first one's column."""
    create_table(client, table_name, [("k", "STRING")])
    req = BatchWriteRowRequest()
    req.add(TableInBatchWriteRowItem(table_name, [
        PutRowItem(Row([("k", "r")], [("n", 10)]), Condition("IGNORE")),
        PutRowItem(Row([("k", "other")], [("n", 1)]), Condition("EXPECT_NOT_EXIST")),
        UpdateRowItem(Row([("k", "r")], {"put": [("m", 5)]}), Condition("EXPECT_EXIST")),
        UpdateRowItem(
            Row([("k", "r")], {"put": [("o", 6)]}),
            Condition("EXPECT_EXIST", SingleColumnCondition("m", 5, ComparatorType.EQUAL)),
        ),
        PutRowItem(Row([("k", "other")], [("n", 2)]), Condition("EXPECT_NOT_EXIST")),
    ]))
    resp = client.batch_write_row(req)
    puts = resp.get_put_by_table(table_name)
    updates = resp.get_update_by_table(table_name)
    assert [p.is_ok for p in puts] == [True, True, False]
    assert puts[2].error_code == "OTSConditionCheckFail"
    assert [u.is_ok for u in updates] == [True, True]
    _, row, _ = client.get_row(table_name, [("k", "r")], max_version=1)
    assert [(c[0], c[1]) for c in row.attribute_columns] == [("m", 5), ("n", 10), ("o", 6)]
    _, row, _ = client.get_row(table_name, [("k", "other")], max_version=1)
    assert row.attribute_columns[0][1] == 1


def test_a_counter_row_may_be_written_only_once_per_batch(client, table_name):
    """The atomic counter docs: a row updated with INCREMENT allows only one operation on it
    in a BatchWriteRow. Every write of such a row answers OTSParameterInvalid; others apply."""
    create_table(client, table_name, [("k", "STRING")])
    req = BatchWriteRowRequest()
    req.add(TableInBatchWriteRowItem(table_name, [
        UpdateRowItem(Row([("k", "c")], {"increment": [("n", 5)]}), Condition("IGNORE")),
        UpdateRowItem(Row([("k", "c")], {"increment": [("n", 1)]}), Condition("IGNORE")),
        UpdateRowItem(Row([("k", "d")], {"increment": [("n", 2)]}), Condition("IGNORE")),
    ]))
    updates = client.batch_write_row(req).get_update_by_table(table_name)
    assert [u.is_ok for u in updates] == [False, False, True]
    assert {u.error_code for u in updates[:2]} == {"OTSParameterInvalid"}
    _, row, _ = client.get_row(table_name, [("k", "c")], max_version=1)
    assert row is None
    _, row, _ = client.get_row(table_name, [("k", "d")], max_version=1)
    assert row.attribute_columns[0][1] == 2


def test_a_fan_out_batch_of_auto_increment_rows_gets_distinct_growing_keys(client, table_name):
    create_table(client, table_name, [("user", "STRING"), ("seq", "INTEGER", PK_AUTO_INCR)])
    users = ["u%d" % (i % 20) for i in range(200)]
    req = BatchWriteRowRequest()
    req.add(TableInBatchWriteRowItem(table_name, [
        PutRowItem(Row([("user", u), ("seq", PK_AUTO_INCR)], [("m", i)]), Condition("IGNORE"),
                   return_type=ReturnType.RT_PK)
        for i, u in enumerate(users)
    ]))
    resp = client.batch_write_row(req)
    assert resp.is_all_succeed()
    seqs = {}
    for item, user in zip(resp.get_put_by_table(table_name), users):
        seqs.setdefault(user, []).append(item.row.primary_key[1][1])
    for user, got in seqs.items():
        assert got == sorted(got) and len(set(got)) == len(got), user
