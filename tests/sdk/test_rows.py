"""Single-row operations through the official Python SDK: PutRow, GetRow, UpdateRow and
DeleteRow, with conditions, versions, columns_to_get, auto-increment and ReturnType."""

import time

import pytest
from tablestore import Condition, ReturnType, Row, TableOptions, PK_AUTO_INCR

from conftest import assert_service_error, create_table


def now_ms():
    return int(time.time() * 1000)


def test_put_then_get_returns_the_row(client, simple_table):
    ts = now_ms() - 1000
    row = Row([("uid", "u1"), ("seq", 1)], [("msg", "hi"), ("n", 7, ts), ("f", 1.5), ("b", True), ("bin", bytearray(b"\x01\x02"))])
    consumed, ret = client.put_row(simple_table, row, Condition("IGNORE"))
    assert consumed.write >= 1
    assert ret is None

    consumed, got, _ = client.get_row(simple_table, [("uid", "u1"), ("seq", 1)], max_version=1)
    assert consumed.read >= 1
    assert got.primary_key == [("uid", "u1"), ("seq", 1)]
    names = [c[0] for c in got.attribute_columns]
    assert names == sorted(names) == ["b", "bin", "f", "msg", "n"]
    values = {c[0]: c[1] for c in got.attribute_columns}
    assert values == {"b": True, "bin": bytearray(b"\x01\x02"), "f": 1.5, "msg": "hi", "n": 7}
    stamps = {c[0]: c[2] for c in got.attribute_columns}
    assert stamps["n"] == ts
    assert abs(stamps["msg"] - now_ms()) < 60_000


def test_get_missing_row_returns_none(client, simple_table):
    consumed, row, _ = client.get_row(simple_table, [("uid", "nope"), ("seq", 0)], max_version=1)
    assert row is None
    assert consumed.read == 1


def test_put_row_replaces_the_whole_row(client, simple_table):
    pk = [("uid", "r"), ("seq", 1)]
    client.put_row(simple_table, Row(pk, [("a", 1), ("b", 2)]))
    client.put_row(simple_table, Row(pk, [("c", 3)]))
    _, row, _ = client.get_row(simple_table, pk, max_version=1)
    assert [(c[0], c[1]) for c in row.attribute_columns] == [("c", 3)]


def test_pk_only_row_exists(client, simple_table):
    pk = [("uid", "pkonly"), ("seq", 1)]
    client.put_row(simple_table, Row(pk, []))
    _, row, _ = client.get_row(simple_table, pk, max_version=1)
    assert row is not None
    assert row.primary_key == pk and row.attribute_columns == []


def test_columns_to_get_projects_and_missing_columns_mean_no_row(client, simple_table):
    pk = [("uid", "proj"), ("seq", 1)]
    client.put_row(simple_table, Row(pk, [("a", 1), ("b", 2), ("c", 3)]))
    _, row, _ = client.get_row(simple_table, pk, columns_to_get=["c", "a"], max_version=1)
    assert [(c[0], c[1]) for c in row.attribute_columns] == [("a", 1), ("c", 3)]
    _, row, _ = client.get_row(simple_table, pk, columns_to_get=["blah"], max_version=1)
    assert row is None


def test_versions_newest_first_and_time_range(client, table_name):
    create_table(client, table_name, [("k", "STRING")], options=TableOptions(-1, 3, 86400))
    base = now_ms() - 10_000
    pk = [("k", "v")]
    client.put_row(table_name, Row(pk, [("c", "v1", base), ("c", "v2", base + 1), ("c", "v3", base + 2), ("c", "v4", base + 3)]))
    _, row, _ = client.get_row(table_name, pk, max_version=10)
    # max_versions=3 on the table hides the oldest version.
    assert [(c[1], c[2]) for c in row.attribute_columns] == [("v4", base + 3), ("v3", base + 2), ("v2", base + 1)]
    _, row, _ = client.get_row(table_name, pk, max_version=2)
    assert [c[1] for c in row.attribute_columns] == ["v4", "v3"]
    _, row, _ = client.get_row(table_name, pk, max_version=None, time_range=(base + 1, base + 3))
    assert [c[1] for c in row.attribute_columns] == ["v3", "v2"]
    _, row, _ = client.get_row(table_name, pk, max_version=None, time_range=base + 2)
    assert [c[1] for c in row.attribute_columns] == ["v3"]


def test_get_row_without_version_condition_fails(client, simple_table):
    with pytest.raises(Exception) as e:
        client.get_row(simple_table, [("uid", "x"), ("seq", 1)], max_version=None)
    assert_service_error(e, 400, "OTSParameterInvalid", "No version condition is specified while querying row.")


def test_row_existence_conditions(client, simple_table):
    pk = [("uid", "cond"), ("seq", 1)]
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row(pk, [("a", 1)]), Condition("EXPECT_EXIST"))
    assert_service_error(e, 403, "OTSConditionCheckFail", "Condition check failed.")
    client.put_row(simple_table, Row(pk, [("a", 1)]), Condition("EXPECT_NOT_EXIST"))
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row(pk, [("a", 2)]), Condition("EXPECT_NOT_EXIST"))
    assert_service_error(e, 403, "OTSConditionCheckFail", "Condition check failed.")
    client.put_row(simple_table, Row(pk, [("a", 3)]), Condition("EXPECT_EXIST"))
    _, row, _ = client.get_row(simple_table, pk, max_version=1)
    assert row.attribute_columns[0][1] == 3


def test_delete_row_and_its_conditions(client, simple_table):
    pk = [("uid", "del"), ("seq", 1)]
    client.put_row(simple_table, Row(pk, [("a", 1)]))
    with pytest.raises(Exception) as e:
        client.delete_row(simple_table, Row(pk), Condition("EXPECT_NOT_EXIST"))
    assert_service_error(e, 403, "OTSConditionCheckFail", "Condition check failed.")
    client.delete_row(simple_table, Row(pk), Condition("EXPECT_EXIST"))
    _, row, _ = client.get_row(simple_table, pk, max_version=1)
    assert row is None
    with pytest.raises(Exception) as e:
        client.delete_row(simple_table, Row(pk), Condition("EXPECT_EXIST"))
    assert_service_error(e, 403, "OTSConditionCheckFail", "Condition check failed.")
    # Deleting a missing row with IGNORE is fine.
    client.delete_row(simple_table, Row(pk), Condition("IGNORE"))


def test_update_row_put_delete_and_increment(client, table_name):
    create_table(client, table_name, [("k", "STRING")], options=TableOptions(-1, 5, 86400))
    pk = [("k", "u")]
    ts = now_ms() - 5000
    client.put_row(table_name, Row(pk, [("a", 1), ("b", "x", ts), ("b", "y", ts + 1), ("c", 5), ("cnt", 10)]))
    change = {
        "put": [("d", "new")],
        "delete": [("b", None, ts + 1)],
        "delete_all": ["c"],
        "increment": [("cnt", 5)],
    }
    client.update_row(table_name, Row(pk, change), Condition("EXPECT_EXIST"))
    _, row, _ = client.get_row(table_name, pk, max_version=5)
    cols = [(c[0], c[1]) for c in row.attribute_columns]
    assert ("b", "y") not in cols and ("b", "x") in cols
    assert all(c[0] != "c" for c in cols)
    assert ("d", "new") in cols
    assert [c[1] for c in row.attribute_columns if c[0] == "cnt"][0] == 15


def test_increment_counts_from_zero(client, table_name):
    create_table(client, table_name, [("k", "STRING")])
    pk = [("k", "ctr")]
    for _ in range(3):
        client.update_row(table_name, Row(pk, {"increment": [("n", 1)]}), Condition("IGNORE"))
    _, got, _ = client.get_row(table_name, pk, max_version=1)
    assert got.attribute_columns[0][:2] == ("n", 3)


def test_update_of_missing_row_with_only_deletes_creates_nothing(client, simple_table):
    pk = [("uid", "ghost"), ("seq", 1)]
    client.update_row(simple_table, Row(pk, {"delete_all": ["a"]}), Condition("IGNORE"))
    _, row, _ = client.get_row(simple_table, pk, max_version=1)
    assert row is None


def test_update_row_with_expect_exist_on_missing_row_fails(client, simple_table):
    with pytest.raises(Exception) as e:
        client.update_row(simple_table, Row([("uid", "none"), ("seq", 1)], {"put": [("a", 1)]}), Condition("EXPECT_EXIST"))
    assert_service_error(e, 403, "OTSConditionCheckFail", "Condition check failed.")


def test_increment_of_a_string_fails(client, simple_table):
    pk = [("uid", "incs"), ("seq", 1)]
    client.put_row(simple_table, Row(pk, [("s", "text")]))
    with pytest.raises(Exception) as e:
        client.update_row(simple_table, Row(pk, {"increment": [("s", 1)]}), Condition("IGNORE"))
    assert_service_error(e, 400, "OTSParameterInvalid")


def test_auto_increment_pk_returns_generated_values(client, table_name):
    create_table(client, table_name, [("uid", "STRING"), ("seq", "INTEGER", PK_AUTO_INCR)])
    seen = []
    for i in range(3):
        _, ret = client.put_row(table_name, Row([("uid", "a"), ("seq", PK_AUTO_INCR)], [("i", i)]), return_type=ReturnType.RT_PK)
        assert ret.primary_key[0] == ("uid", "a")
        seen.append(ret.primary_key[1][1])
    assert seen == sorted(seen) and len(set(seen)) == 3
    _, row, _ = client.get_row(table_name, [("uid", "a"), ("seq", seen[1])], max_version=1)
    assert row.attribute_columns[0][1] == 1


def test_auto_increment_with_a_row_condition_is_rejected(client, table_name):
    create_table(client, table_name, [("uid", "STRING"), ("seq", "INTEGER", PK_AUTO_INCR)])
    with pytest.raises(Exception) as e:
        client.put_row(table_name, Row([("uid", "a"), ("seq", PK_AUTO_INCR)], [("i", 1)]), Condition("EXPECT_NOT_EXIST"))
    assert_service_error(e, 400, "OTSParameterInvalid")


def test_return_type_pk_on_put_and_delete(client, simple_table):
    pk = [("uid", "rt"), ("seq", 9)]
    _, ret = client.put_row(simple_table, Row(pk, [("a", 1)]), return_type=ReturnType.RT_PK)
    assert ret.primary_key == pk
    _, ret = client.delete_row(simple_table, Row(pk), Condition("IGNORE"), return_type=ReturnType.RT_PK)
    assert ret.primary_key == pk


def test_timestamp_outside_deviation_is_rejected(client, simple_table):
    old = now_ms() - 2 * 86400 * 1000
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row([("uid", "ts"), ("seq", 1)], [("a", 1, old)]))
    assert_service_error(e, 400, "OTSParameterInvalid", "Invalid timestamp. Cell:a.")
