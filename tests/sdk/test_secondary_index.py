"""Secondary indexes through the official Python SDK: indexes declared with CreateTable or
added with CreateIndex, read back by name with GetRange/GetRow, kept current by every base
write (PutRow, UpdateRow, DeleteRow, BatchWriteRow), dropped with DropIndex or with their
base table, persisted across restarts, and the documented errors.

Every base table here is keyed by (uid STRING, seq INTEGER) and declares the defined columns
in DEFINED, so an index on ["city"] has the primary key [city, uid, seq]."""

import pytest
from tablestore import (
    INF_MAX,
    INF_MIN,
    BatchWriteRowRequest,
    CapacityUnit,
    Condition,
    DeleteRowItem,
    Direction,
    PutRowItem,
    ReservedThroughput,
    Row,
    TableInBatchWriteRowItem,
    TableMeta,
    TableOptions,
    UpdateRowItem,
)
from tablestore.metadata import SecondaryIndexMeta, SecondaryIndexType

from conftest import assert_service_error, create_table

BASE_PK = [("uid", "STRING"), ("seq", "INTEGER")]
DEFINED = [
    ("city", "STRING"),
    ("age", "INTEGER"),
    ("name", "STRING"),
    ("blob", "BINARY"),
    ("score", "DOUBLE"),
    ("ok", "BOOLEAN"),
]
# Indexes require a single version and no TTL on the base table.
INDEXABLE = TableOptions(-1, 1, 86400)


def create_base(cli, name, indexes=None, options=None):
    """A base table with BASE_PK and DEFINED, optionally created together with indexes."""
    cli.create_table(
        TableMeta(name, BASE_PK, DEFINED),
        options or INDEXABLE,
        ReservedThroughput(CapacityUnit(0, 0)),
        secondary_indexes=indexes or [],
    )
    return name


def by_city(index_name, covered=("name", "age"), index_type=SecondaryIndexType.GLOBAL_INDEX):
    """An index keyed by city (so its primary key is [city, uid, seq]) covering name and age."""
    return SecondaryIndexMeta(index_name, ["city"], list(covered), index_type)


def put(cli, table, uid, seq, **attrs):
    cli.put_row(table, Row([("uid", uid), ("seq", seq)], list(attrs.items())), Condition("IGNORE"))


def update(cli, table, uid, seq, delete=(), **attrs):
    changes = {}
    if attrs:
        changes["put"] = list(attrs.items())
    if delete:
        changes["delete_all"] = list(delete)
    cli.update_row(table, Row([("uid", uid), ("seq", seq)], changes), Condition("IGNORE"))


def scan(cli, index_name, pk_names=("city", "uid", "seq")):
    """Every row of the index, in order, as (primary key values, {covered column: value}).
    Pages through next_start_primary_key so a short page can't hide rows."""
    start = [(n, INF_MIN) for n in pk_names]
    end = [(n, INF_MAX) for n in pk_names]
    out = []
    while start is not None:
        _, start, rows, _ = cli.get_range(index_name, Direction.FORWARD, start, end, max_version=1)
        for r in rows:
            assert [c[0] for c in r.primary_key] == list(pk_names)
            out.append((tuple(c[1] for c in r.primary_key), {c[0]: c[1] for c in r.attribute_columns}))
    return out


def index_keys(cli, index_name, pk_names=("city", "uid", "seq")):
    return [pk for pk, _ in scan(cli, index_name, pk_names)]


def described_indexes(cli, table):
    return {ix.index_name: ix for ix in cli.describe_table(table).secondary_indexes}


# --- creation and description ---------------------------------------------------------------


def test_create_table_with_indexes_describes_them_as_declared(client, table_name):
    glob = table_name + "_g"
    local = table_name + "_l"
    create_base(client, table_name, [
        SecondaryIndexMeta(glob, ["city"], ["name", "age"]),
        SecondaryIndexMeta(local, ["uid", "age"], ["name"], SecondaryIndexType.LOCAL_INDEX),
    ])
    described = described_indexes(client, table_name)
    assert set(described) == {glob, local}
    # The described key is the one the user listed, not the completed index key.
    assert described[glob].primary_key_names == ["city"]
    assert described[glob].defined_column_names == ["name", "age"]
    assert described[glob].index_type == SecondaryIndexType.GLOBAL_INDEX
    assert described[local].primary_key_names == ["uid", "age"]
    assert described[local].defined_column_names == ["name"]
    assert described[local].index_type == SecondaryIndexType.LOCAL_INDEX


def test_table_without_indexes_describes_none(client, table_name):
    create_base(client, table_name)
    assert client.describe_table(table_name).secondary_indexes == []


def test_local_index_must_start_with_the_base_first_pk_column(client, table_name):
    create_base(client, table_name)
    with pytest.raises(Exception) as e:
        client.create_secondary_index(
            table_name, SecondaryIndexMeta(table_name + "_l", ["city"], [], SecondaryIndexType.LOCAL_INDEX), True)
    assert_service_error(e, 400, "OTSParameterInvalid")
    assert described_indexes(client, table_name) == {}


def test_index_names_are_not_listed_as_tables(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    client.create_secondary_index(table_name, by_city(idx + "2"), True)
    names = client.list_table()
    assert table_name in names
    assert idx not in names and idx + "2" not in names


# --- reading an index -----------------------------------------------------------------------


def test_get_range_returns_one_row_per_base_row_in_index_key_order(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    put(client, table_name, "u1", 1, city="paris", name="A", age=30)
    put(client, table_name, "u2", 1, city="berlin", name="B")
    put(client, table_name, "u1", 2, city="paris", age=40)
    # score is a defined column but not covered, so the index row has no attributes.
    put(client, table_name, "u3", 1, city="rome", score=1.5)
    # No city: not in the index at all.
    put(client, table_name, "u4", 1, name="D", age=1)

    assert scan(client, idx) == [
        (("berlin", "u2", 1), {"name": "B"}),
        (("paris", "u1", 1), {"name": "A", "age": 30}),
        (("paris", "u1", 2), {"age": 40}),
        (("rome", "u3", 1), {}),
    ]


def test_missing_base_pk_columns_are_appended_in_base_pk_order(client, table_name):
    # The user lists age and seq; only uid is missing, so the index key is [age, seq, uid].
    idx = table_name + "_idx"
    create_base(client, table_name, [SecondaryIndexMeta(idx, ["age", "seq"], ["city"])])
    put(client, table_name, "b", 1, age=20, city="x")
    put(client, table_name, "a", 2, age=20)
    put(client, table_name, "a", 1, age=20)
    put(client, table_name, "z", 0, age=10)

    assert scan(client, idx, ("age", "seq", "uid")) == [
        ((10, 0, "z"), {}),
        ((20, 1, "a"), {}),
        ((20, 1, "b"), {"city": "x"}),
        ((20, 2, "a"), {}),
    ]
    # Still described as listed.
    assert described_indexes(client, table_name)[idx].primary_key_names == ["age", "seq"]


def test_index_on_integer_and_binary_columns(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [SecondaryIndexMeta(idx, ["blob", "age"], ["name"])])
    put(client, table_name, "u1", 1, blob=bytearray(b"\x02"), age=5, name="n1")
    put(client, table_name, "u2", 1, blob=bytearray(b"\x01"), age=9)
    keys = index_keys(client, idx, ("blob", "age", "uid", "seq"))
    assert keys == [(bytearray(b"\x01"), 9, "u2", 1), (bytearray(b"\x02"), 5, "u1", 1)]


def test_get_row_on_index_with_full_index_pk(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    put(client, table_name, "u1", 7, city="oslo", name="N", age=3, score=2.5)

    _, row, _ = client.get_row(idx, [("city", "oslo"), ("uid", "u1"), ("seq", 7)], max_version=1)
    assert [tuple(c[:2]) for c in row.primary_key] == [("city", "oslo"), ("uid", "u1"), ("seq", 7)]
    assert {c[0]: c[1] for c in row.attribute_columns} == {"name": "N", "age": 3}

    _, row, _ = client.get_row(idx, [("city", "bergen"), ("uid", "u1"), ("seq", 7)], max_version=1)
    assert row is None


def test_local_index_is_readable_like_a_global_one(client, table_name):
    idx = table_name + "_l"
    create_base(client, table_name, [
        SecondaryIndexMeta(idx, ["uid", "age"], ["name"], SecondaryIndexType.LOCAL_INDEX)])
    put(client, table_name, "u1", 1, age=50, name="old")
    put(client, table_name, "u1", 2, age=10)
    put(client, table_name, "u0", 9, age=99)
    assert scan(client, idx, ("uid", "age", "seq")) == [
        (("u0", 99, 9), {}),
        (("u1", 10, 2), {}),
        (("u1", 50, 1), {"name": "old"}),
    ]


# --- base writes keep indexes current -------------------------------------------------------


def test_put_row_over_an_existing_row_moves_its_entry(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    put(client, table_name, "u1", 1, city="paris", name="A")
    put(client, table_name, "u1", 1, city="rome", age=2)
    # PutRow replaces the whole row, so name is gone from the new entry too.
    assert scan(client, idx) == [(("rome", "u1", 1), {"age": 2})]

    # A put without the index column takes the row out of the index.
    put(client, table_name, "u1", 1, name="A")
    assert scan(client, idx) == []


def test_update_row_changing_the_index_column_moves_the_entry(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    put(client, table_name, "u1", 1, city="paris", name="A", age=30)
    update(client, table_name, "u1", 1, city="rome")

    # The covered columns follow the row to its new index key.
    assert scan(client, idx) == [(("rome", "u1", 1), {"name": "A", "age": 30})]
    _, old, _ = client.get_row(idx, [("city", "paris"), ("uid", "u1"), ("seq", 1)], max_version=1)
    assert old is None


def test_update_row_changing_only_a_covered_column_updates_the_entry(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    put(client, table_name, "u1", 1, city="paris", name="A", age=30)
    update(client, table_name, "u1", 1, name="B")
    assert scan(client, idx) == [(("paris", "u1", 1), {"name": "B", "age": 30})]

    # Deleting a covered column removes it from the entry but keeps the entry.
    update(client, table_name, "u1", 1, delete=["age"])
    assert scan(client, idx) == [(("paris", "u1", 1), {"name": "B"})]


def test_row_enters_the_index_when_it_gets_the_index_column_and_leaves_when_it_loses_it(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    put(client, table_name, "u1", 1, name="A")
    assert scan(client, idx) == []

    update(client, table_name, "u1", 1, city="lima")
    assert scan(client, idx) == [(("lima", "u1", 1), {"name": "A"})]

    update(client, table_name, "u1", 1, delete=["city"])
    assert scan(client, idx) == []


def test_a_row_put_without_attributes_keeps_its_entry_when_its_later_columns_go(client, table_name):
    # Keyed by primary-key columns only: every base row has an entry, a PK-only one included.
    idx = table_name + "_idx"
    create_base(client, table_name, [SecondaryIndexMeta(idx, ["seq"], ["name"])])
    put(client, table_name, "u1", 1)
    update(client, table_name, "u1", 1, name="A")
    assert scan(client, idx, ("seq", "uid")) == [((1, "u1"), {"name": "A"})]

    # The PutRow's marker keeps the base row once its only column is deleted, so the index
    # keeps the entry too.
    update(client, table_name, "u1", 1, delete=["name"])
    _, row, _ = client.get_row(table_name, [("uid", "u1"), ("seq", 1)], max_version=1)
    assert row is not None and row.attribute_columns == []
    assert scan(client, idx, ("seq", "uid")) == [((1, "u1"), {})]


def test_update_row_creating_a_new_row_adds_its_entry(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    update(client, table_name, "new", 1, city="kyiv", age=4)
    assert scan(client, idx) == [(("kyiv", "new", 1), {"age": 4})]


def test_delete_row_removes_the_entry(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    put(client, table_name, "u1", 1, city="paris")
    put(client, table_name, "u2", 1, city="paris")
    client.delete_row(table_name, Row([("uid", "u1"), ("seq", 1)]), Condition("IGNORE"))
    assert index_keys(client, idx) == [("paris", "u2", 1)]


def test_every_index_of_the_table_is_maintained(client, table_name):
    by_c = table_name + "_c"
    by_a = table_name + "_a"
    create_base(client, table_name, [by_city(by_c), SecondaryIndexMeta(by_a, ["age"], ["city"])])
    put(client, table_name, "u1", 1, city="paris", age=30)
    update(client, table_name, "u1", 1, age=31)
    assert scan(client, by_c) == [(("paris", "u1", 1), {"age": 31})]
    assert scan(client, by_a, ("age", "uid", "seq")) == [((31, "u1", 1), {"city": "paris"})]


def test_batch_write_row_puts_updates_and_deletes_through_to_the_index(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    put(client, table_name, "moved", 1, city="paris", name="M")
    put(client, table_name, "gone", 1, city="paris")

    req = BatchWriteRowRequest()
    req.add(TableInBatchWriteRowItem(table_name, [
        PutRowItem(Row([("uid", "fresh"), ("seq", 1)], [("city", "oslo"), ("age", 1)]), Condition("IGNORE")),
        UpdateRowItem(Row([("uid", "moved"), ("seq", 1)], {"put": [("city", "athens")]}), Condition("IGNORE")),
        DeleteRowItem(Row([("uid", "gone"), ("seq", 1)]), Condition("IGNORE")),
    ]))
    assert client.batch_write_row(req).is_all_succeed()

    assert scan(client, idx) == [
        (("athens", "moved", 1), {"name": "M"}),
        (("oslo", "fresh", 1), {"age": 1}),
    ]


# --- CreateIndex and DropIndex --------------------------------------------------------------


def test_create_secondary_index_with_base_data_backfills_existing_rows(client, table_name):
    create_base(client, table_name)
    put(client, table_name, "u1", 1, city="paris", name="A")
    put(client, table_name, "u2", 1, city="berlin", age=2)
    put(client, table_name, "u3", 1, name="no city")

    idx = table_name + "_idx"
    client.create_secondary_index(table_name, by_city(idx), True)
    assert idx in described_indexes(client, table_name)
    assert scan(client, idx) == [
        (("berlin", "u2", 1), {"age": 2}),
        (("paris", "u1", 1), {"name": "A"}),
    ]
    # And it is maintained from then on.
    put(client, table_name, "u4", 1, city="cairo")
    assert index_keys(client, idx)[0] == ("berlin", "u2", 1)
    assert ("cairo", "u4", 1) in index_keys(client, idx)


def test_create_secondary_index_without_base_data_indexes_only_later_writes(client, table_name):
    create_base(client, table_name)
    put(client, table_name, "old", 1, city="paris")

    idx = table_name + "_idx"
    client.create_secondary_index(table_name, by_city(idx), False)
    assert scan(client, idx) == []

    put(client, table_name, "new", 1, city="rome", name="N")
    assert scan(client, idx) == [(("rome", "new", 1), {"name": "N"})]


def test_delete_secondary_index_removes_it(client, table_name):
    idx = table_name + "_idx"
    kept = table_name + "_kept"
    create_base(client, table_name, [by_city(idx), by_city(kept)])
    put(client, table_name, "u1", 1, city="paris")

    client.delete_secondary_index(table_name, idx)
    assert set(described_indexes(client, table_name)) == {kept}
    with pytest.raises(Exception) as e:
        scan(client, idx)
    assert_service_error(e, 404, "OTSObjectNotExist")

    # The base table and the other index carry on.
    put(client, table_name, "u2", 1, city="rome")
    assert index_keys(client, kept) == [("paris", "u1", 1), ("rome", "u2", 1)]


def test_recreated_index_of_the_same_name_starts_clean(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    put(client, table_name, "u1", 1, city="paris")
    client.delete_secondary_index(table_name, idx)

    # Without base data the new index must not see the old index's rows.
    client.create_secondary_index(table_name, SecondaryIndexMeta(idx, ["age"], []), False)
    assert scan(client, idx, ("age", "uid", "seq")) == []

    put(client, table_name, "u2", 1, city="rome", age=5)
    assert index_keys(client, idx, ("age", "uid", "seq")) == [(5, "u2", 1)]


def test_delete_table_deletes_its_indexes(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    put(client, table_name, "u1", 1, city="paris")
    client.delete_table(table_name)

    with pytest.raises(Exception) as e:
        client.describe_table(idx)
    assert_service_error(e, 404, "OTSObjectNotExist")
    with pytest.raises(Exception) as e:
        scan(client, idx)
    assert_service_error(e, 404, "OTSObjectNotExist")
    assert idx not in client.list_table()


def test_recreated_base_table_has_no_indexes_or_index_rows(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    put(client, table_name, "u1", 1, city="paris")
    client.delete_table(table_name)

    create_base(client, table_name)
    assert client.describe_table(table_name).secondary_indexes == []
    client.create_secondary_index(table_name, by_city(idx), True)
    assert scan(client, idx) == []


# --- durability -----------------------------------------------------------------------------


@pytest.mark.parametrize("hard", [False, True], ids=["graceful", "sigkill"])
def test_indexes_and_their_rows_survive_a_restart(fresh_server, hard):
    cli = fresh_server.client()
    create_base(cli, "base", [by_city("by_city")])
    put(cli, "base", "u1", 1, city="paris", name="A")
    put(cli, "base", "u2", 1, city="rome", age=2)
    cli.create_secondary_index("base", SecondaryIndexMeta("by_age", ["age"], ["city"]), True)
    cli.create_secondary_index("base", by_city("dropped"), True)
    cli.delete_secondary_index("base", "dropped")
    update(cli, "base", "u1", 1, city="lima")

    fresh_server.restart(hard=hard)
    cli = fresh_server.client()
    assert set(described_indexes(cli, "base")) == {"by_city", "by_age"}
    assert list(cli.list_table()) == ["base"]
    assert scan(cli, "by_city") == [
        (("lima", "u1", 1), {"name": "A"}),
        (("rome", "u2", 1), {"age": 2}),
    ]
    assert scan(cli, "by_age", ("age", "uid", "seq")) == [((2, "u2", 1), {"city": "rome"})]
    with pytest.raises(Exception) as e:
        scan(cli, "dropped")
    assert_service_error(e, 404, "OTSObjectNotExist")

    # Maintenance carries on after the restart.
    update(cli, "base", "u2", 1, city="oslo")
    assert index_keys(cli, "by_city") == [("lima", "u1", 1), ("oslo", "u2", 1)]


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["put", "update", "delete"])
def test_writing_to_an_index_is_rejected(client, table_name, op):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    pk = [("city", "paris"), ("uid", "u1"), ("seq", 1)]
    with pytest.raises(Exception) as e:
        if op == "put":
            client.put_row(idx, Row(pk, [("name", "x")]), Condition("IGNORE"))
        elif op == "update":
            client.update_row(idx, Row(pk, {"put": [("name", "x")]}), Condition("IGNORE"))
        else:
            client.delete_row(idx, Row(pk), Condition("IGNORE"))
    assert_service_error(e, 400, "OTSParameterInvalid")
    assert "index" in e.value.get_error_message().lower()
    # Nothing reached the index.
    assert scan(client, idx) == []


def test_batch_writes_to_an_index_fail_row_by_row(client, table_name):
    # Like a missing table in a batch, an index answers each of its rows with the error,
    # and the other tables' rows are applied.
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    pk = [("city", "paris"), ("uid", "u1"), ("seq", 1)]
    req = BatchWriteRowRequest()
    req.add(TableInBatchWriteRowItem(idx, [PutRowItem(Row(pk, [("name", "x")]), Condition("IGNORE"))]))
    base_row = Row([("uid", "u2"), ("seq", 2)], [("city", "rome")])
    req.add(TableInBatchWriteRowItem(table_name, [PutRowItem(base_row, Condition("IGNORE"))]))
    resp = client.batch_write_row(req)
    refused = resp.get_put_by_table(idx)[0]
    assert not refused.is_ok
    assert refused.error_code == "OTSParameterInvalid"
    assert "index" in refused.error_message.lower()
    assert resp.get_put_by_table(table_name)[0].is_ok
    assert [pk for pk, _ in scan(client, idx)] == [("rome", "u2", 2)]


@pytest.mark.parametrize("options", [TableOptions(-1, 2, 86400), TableOptions(2 * 86400, 1, 86400)],
                         ids=["max_version_2", "ttl"])
def test_index_on_a_table_with_versions_or_ttl_is_rejected(client, table_name, options):
    create_base(client, table_name, options=options)
    with pytest.raises(Exception) as e:
        client.create_secondary_index(table_name, by_city(table_name + "_idx"), True)
    assert_service_error(e, 400, "OTSParameterInvalid")
    assert described_indexes(client, table_name) == {}


def test_create_table_with_an_index_and_max_version_2_is_rejected(client, table_name):
    with pytest.raises(Exception) as e:
        create_base(client, table_name, [by_city(table_name + "_idx")], options=TableOptions(-1, 2, 86400))
    assert_service_error(e, 400, "OTSParameterInvalid")


@pytest.mark.parametrize("column", ["nosuch", "score", "ok"], ids=["undefined", "double", "boolean"])
def test_index_pk_must_be_a_pk_or_an_indexable_defined_column(client, table_name, column):
    create_base(client, table_name)
    with pytest.raises(Exception) as e:
        client.create_secondary_index(table_name, SecondaryIndexMeta(table_name + "_idx", [column], []), True)
    assert_service_error(e, 400, "OTSParameterInvalid")
    assert described_indexes(client, table_name) == {}


def test_bad_index_in_create_table_is_rejected(client, table_name):
    with pytest.raises(Exception) as e:
        create_base(client, table_name, [SecondaryIndexMeta(table_name + "_idx", ["score"], [])])
    assert_service_error(e, 400, "OTSParameterInvalid")


def test_a_sixth_index_is_rejected(client, table_name):
    create_base(client, table_name)
    names = [f"{table_name}_i{i}" for i in range(5)]
    for name in names:
        client.create_secondary_index(table_name, by_city(name), True)
    with pytest.raises(Exception) as e:
        client.create_secondary_index(table_name, by_city(table_name + "_i5"), True)
    assert_service_error(e, 400, "OTSParameterInvalid")
    assert set(described_indexes(client, table_name)) == set(names)


def test_index_name_taken_by_an_index_of_the_same_table_conflicts(client, table_name):
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    with pytest.raises(Exception) as e:
        client.create_secondary_index(table_name, SecondaryIndexMeta(idx, ["age"], []), True)
    assert_service_error(e, 409, "OTSObjectAlreadyExist")
    # The original index is untouched.
    assert described_indexes(client, table_name)[idx].primary_key_names == ["city"]


def test_index_name_taken_by_another_tables_index_conflicts(client, table_name):
    other = table_name + "_other"
    idx = table_name + "_idx"
    create_base(client, table_name, [by_city(idx)])
    create_base(client, other)
    try:
        with pytest.raises(Exception) as e:
            client.create_secondary_index(other, by_city(idx), True)
        assert_service_error(e, 409, "OTSObjectAlreadyExist")
        assert described_indexes(client, other) == {}
    finally:
        client.delete_table(other)


def test_index_name_taken_by_a_table_conflicts(client, table_name):
    other = create_table(client, table_name + "_tbl", [("k", "STRING")])
    create_base(client, table_name)
    try:
        with pytest.raises(Exception) as e:
            client.create_secondary_index(table_name, by_city(other), True)
        assert_service_error(e, 409, "OTSObjectAlreadyExist")
        # The index name also may not be the base table's own name.
        with pytest.raises(Exception) as e:
            client.create_secondary_index(table_name, by_city(table_name), True)
        assert_service_error(e, 409, "OTSObjectAlreadyExist")
        assert described_indexes(client, table_name) == {}
    finally:
        client.delete_table(other)


def test_create_secondary_index_on_a_missing_table_is_404(client, table_name):
    with pytest.raises(Exception) as e:
        client.create_secondary_index(table_name, by_city(table_name + "_idx"), True)
    assert_service_error(e, 404, "OTSObjectNotExist")


def test_delete_unknown_secondary_index_is_404(client, table_name):
    create_base(client, table_name)
    with pytest.raises(Exception) as e:
        client.delete_secondary_index(table_name, table_name + "_idx")
    assert_service_error(e, 404, "OTSObjectNotExist")


def test_update_table_to_max_version_2_with_an_index_is_rejected(client, table_name):
    create_base(client, table_name, [by_city(table_name + "_idx")])
    with pytest.raises(Exception) as e:
        client.update_table(table_name, TableOptions(-1, 2, 86400))
    assert_service_error(e, 400, "OTSParameterInvalid")
    assert client.describe_table(table_name).table_options.max_version == 1
