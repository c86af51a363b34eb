"""Table operations through the official Python SDK: create, list, describe, update and
delete, and their documented errors. (The Python SDK has no ComputeSplitPointsBySize.)"""

import pytest
from tablestore import PK_AUTO_INCR, CapacityUnit, ReservedThroughput, TableOptions

from conftest import assert_service_error, create_table


def test_create_list_describe_delete(client, table_name):
    create_table(client, table_name, [("PK0", "STRING"), ("PK1", "INTEGER")], cu=(1, 2))
    assert table_name in client.list_table()

    desc = client.describe_table(table_name)
    assert desc.table_meta.table_name == table_name
    assert desc.table_meta.schema_of_primary_key == [("PK0", "STRING"), ("PK1", "INTEGER")]
    opts = desc.table_options
    assert (opts.time_to_live, opts.max_version, opts.max_time_deviation) == (-1, 1, 86400)
    cu = desc.reserved_throughput_details.capacity_unit
    assert (cu.read, cu.write) == (1, 2)
    assert desc.reserved_throughput_details.last_increase_time > 0

    client.delete_table(table_name)
    assert table_name not in client.list_table()


def test_list_table_is_sorted_and_per_instance(otsd_server, client, table_name):
    create_table(client, table_name + "_b", [("k", "INTEGER")])
    create_table(client, table_name + "_a", [("k", "INTEGER")])
    try:
        names = client.list_table()
        assert names.index(table_name + "_a") < names.index(table_name + "_b")
        other = otsd_server.client("otherinst")
        assert table_name + "_a" not in other.list_table()
    finally:
        client.delete_table(table_name + "_a")
        client.delete_table(table_name + "_b")


def test_update_table_changes_options_and_throughput(client, table_name):
    create_table(client, table_name, [("k", "STRING")])
    resp = client.update_table(table_name, TableOptions(86402, 3, 86400), ReservedThroughput(CapacityUnit(5, 6)))
    assert (resp.table_options.time_to_live, resp.table_options.max_version) == (86402, 3)
    desc = client.describe_table(table_name)
    assert (desc.table_options.time_to_live, desc.table_options.max_version) == (86402, 3)
    cu = desc.reserved_throughput_details.capacity_unit
    assert (cu.read, cu.write) == (5, 6)


def test_create_existing_table_fails(client, table_name):
    create_table(client, table_name, [("k", "STRING")])
    with pytest.raises(Exception) as e:
        create_table(client, table_name, [("k", "STRING")])
    assert_service_error(e, 409, "OTSObjectAlreadyExist", "Requested table already exists.")


@pytest.mark.parametrize("op", ["describe", "delete", "update"])
def test_missing_table_is_404(client, op):
    with pytest.raises(Exception) as e:
        if op == "describe":
            client.describe_table("no_such_table")
        elif op == "delete":
            client.delete_table("no_such_table")
        else:
            client.update_table("no_such_table", TableOptions(-1, 2, 86400))
    assert_service_error(e, 404, "OTSObjectNotExist", "Requested table does not exist.")


def test_boolean_pk_type_is_rejected(client, table_name):
    with pytest.raises(Exception) as e:
        create_table(client, table_name, [("PK0", "BOOLEAN")])
    assert_service_error(e, 400, "OTSParameterInvalid", "BOOLEAN is an invalid type for the primary key.")
    assert table_name not in client.list_table()


def test_duplicate_pk_name_is_rejected(client, table_name):
    with pytest.raises(Exception) as e:
        create_table(client, table_name, [("PK0", "STRING"), ("PK0", "INTEGER")])
    assert_service_error(e, 400, "OTSParameterInvalid", "Duplicated primary key name: 'PK0'.")


def test_too_many_pk_columns_is_rejected(client, table_name):
    with pytest.raises(Exception) as e:
        create_table(client, table_name, [(f"p{i}", "INTEGER") for i in range(5)])
    assert_service_error(e, 400, "OTSParameterInvalid", "The number of primary key columns must be in range: [1, 4].")


@pytest.mark.parametrize("name", ["1abc", "a-b", "x" * 256])
def test_invalid_table_name_is_rejected(client, name):
    with pytest.raises(Exception) as e:
        create_table(client, name, [("k", "STRING")])
    assert_service_error(e, 400, "OTSParameterInvalid", f"Invalid table name: '{name}'.")


def test_auto_increment_on_first_column_is_rejected(client, table_name):
    with pytest.raises(Exception) as e:
        create_table(client, table_name, [("a", "INTEGER", PK_AUTO_INCR), ("b", "STRING")])
    assert_service_error(e, 400, "OTSParameterInvalid", f"First primary key can't be auto increment, table: {table_name}.")


@pytest.mark.parametrize("ttl,max_version", [(0, 1), (100, 1), (-1, 0)])
def test_bad_options_are_rejected(client, table_name, ttl, max_version):
    with pytest.raises(Exception) as e:
        create_table(client, table_name, [("k", "STRING")], options=TableOptions(ttl, max_version, 86400))
    assert_service_error(e, 400, "OTSParameterInvalid")


def test_table_quota_per_instance(otsd_server):
    cli = otsd_server.client("quotainst")
    created = []
    try:
        for i in range(64):
            created.append(create_table(cli, f"q{i}", [("k", "INTEGER")]))
        with pytest.raises(Exception) as e:
            create_table(cli, "q64", [("k", "INTEGER")])
        assert_service_error(e, 403, "OTSQuotaExhausted", "Number of tables exceeded the quota.")
    finally:
        for name in created:
            cli.delete_table(name)


def test_deleted_table_can_be_recreated_empty(client, table_name):
    from tablestore import Row, Condition
    create_table(client, table_name, [("k", "STRING")])
    client.put_row(table_name, Row([("k", "a")], [("v", 1)]), Condition("IGNORE"))
    client.delete_table(table_name)
    create_table(client, table_name, [("k", "STRING")])
    _, row, _ = client.get_row(table_name, [("k", "a")], max_version=1)
    assert row is None

