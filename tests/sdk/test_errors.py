"""Documented row-operation errors through the official Python SDK: primary-key validation
(size, name, type, order, placeholders), value and column limits, missing tables."""

import pytest
from tablestore import INF_MAX, INF_MIN, Condition, Row

from conftest import assert_service_error

PK = [("uid", "a"), ("seq", 1)]


def test_pk_size_mismatch(client, simple_table):
    with pytest.raises(Exception) as e:
        client.get_row(simple_table, [("uid", "a")], max_version=1)
    assert_service_error(e, 400, "OTSInvalidPK", "Validate PK size fail. Input: 1, Meta: 2.")
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row(PK + [("x", 1)], [("a", 1)]))
    assert_service_error(e, 400, "OTSInvalidPK", "Validate PK size fail. Input: 3, Meta: 2.")


def test_pk_name_mismatch_and_wrong_order(client, simple_table):
    with pytest.raises(Exception) as e:
        client.get_row(simple_table, [("uidx", "a"), ("seq", 1)], max_version=1)
    assert_service_error(e, 400, "OTSInvalidPK", "Validate PK name fail. Input: uidx, Meta: uid.")
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row([("seq", 1), ("uid", "a")], [("a", 1)]))
    assert_service_error(e, 400, "OTSInvalidPK", "Validate PK name fail. Input: seq, Meta: uid.")


def test_pk_type_mismatch(client, simple_table):
    with pytest.raises(Exception) as e:
        client.delete_row(simple_table, Row([("uid", 5), ("seq", 1)]), Condition("IGNORE"))
    assert_service_error(e, 400, "OTSInvalidPK", "Validate PK type fail. Input: INTEGER, Meta: STRING.")


@pytest.mark.parametrize("placeholder,name", [(INF_MIN, "VT_INF_MIN"), (INF_MAX, "VT_INF_MAX")])
def test_inf_placeholders_in_single_row_ops(client, simple_table, placeholder, name):
    message = f"{name} is an invalid type for the primary key."
    with pytest.raises(Exception) as e:
        client.get_row(simple_table, [("uid", "a"), ("seq", placeholder)], max_version=1)
    assert_service_error(e, 400, "OTSParameterInvalid", message)
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row([("uid", placeholder), ("seq", 1)], [("a", 1)]))
    assert_service_error(e, 400, "OTSParameterInvalid", message)


@pytest.mark.parametrize("op", ["get", "put", "update", "delete"])
def test_row_ops_on_missing_table_are_404(client, op):
    with pytest.raises(Exception) as e:
        if op == "get":
            client.get_row("no_such_table", [("k", 1)], max_version=1)
        elif op == "put":
            client.put_row("no_such_table", Row([("k", 1)], [("a", 1)]))
        elif op == "update":
            client.update_row("no_such_table", Row([("k", 1)], {"put": [("a", 1)]}), Condition("IGNORE"))
        else:
            client.delete_row("no_such_table", Row([("k", 1)]), Condition("IGNORE"))
    assert_service_error(e, 404, "OTSObjectNotExist", "Requested table does not exist.")


def test_pk_string_over_1kb_is_rejected(client, simple_table):
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row([("uid", "x" * 1025), ("seq", 1)], [("a", 1)]))
    assert_service_error(e, 400, "OTSParameterInvalid")
    client.put_row(simple_table, Row([("uid", "x" * 1024), ("seq", 1)], [("a", 1)]))


def test_attribute_over_2mb_is_rejected(client, simple_table):
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row(PK, [("a", "x" * (2 * 1024 * 1024 + 1))]))
    assert_service_error(e, 400, "OTSParameterInvalid")


def test_more_than_1024_columns_in_one_write_is_rejected(client, simple_table):
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row(PK, [(f"c{i}", i) for i in range(1025)]))
    assert_service_error(e, 400, "OTSParameterInvalid")


def test_more_than_128_columns_to_get_is_rejected(client, simple_table):
    with pytest.raises(Exception) as e:
        client.get_row(simple_table, PK, columns_to_get=[f"c{i}" for i in range(129)], max_version=1)
    assert_service_error(e, 400, "OTSParameterInvalid")


def test_invalid_attribute_name_is_rejected(client, simple_table):
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row(PK, [("bad-name", 1)]))
    assert_service_error(e, 400, "OTSParameterInvalid", "Invalid column name: 'bad-name'.")


def test_attribute_named_like_a_pk_column_is_rejected(client, simple_table):
    with pytest.raises(Exception) as e:
        client.put_row(simple_table, Row(PK, [("uid", 1)]))
    assert_service_error(e, 400, "OTSParameterInvalid", "Duplicated attribute column name with primary key column: uid.")
