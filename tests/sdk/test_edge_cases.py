"""Robustness of the request path against bad or extreme input through the official Python
SDK: every case must answer with the documented error (or a sane result), never a crash.
The server is checked to be alive after each test."""

import pytest
import tablestore
from tablestore import (
    INF_MAX,
    INF_MIN,
    LogicalOperator,
    BatchGetRowRequest,
    BatchWriteRowRequest,
    CastType,
    ComparatorType,
    CompositeColumnCondition,
    Condition,
    Direction,
    PutRowItem,
    RegexRule,
    Row,
    SingleColumnCondition,
    SingleColumnRegexCondition,
    TableInBatchGetRowItem,
    TableInBatchWriteRowItem,
)
from tablestore import encoder as sdk_encoder
from tablestore.metadata import ColumnCondition
from tablestore.protobuf import table_store_filter_pb2 as filter_pb2

from conftest import INSTANCE, assert_service_error, create_table

PK = [("uid", "a"), ("seq", 1)]
I64_MAX = 2**63 - 1
I64_MIN = -(2**63)
FULL_RANGE = ([("uid", INF_MIN), ("seq", INF_MIN)], [("uid", INF_MAX), ("seq", INF_MAX)])


@pytest.fixture(autouse=True)
def server_stays_up(otsd_server):
    """Every edge case must leave the server answering (a panic would kill the worker or
    the process)."""
    yield
    assert otsd_server.proc.poll() is None, "otsd exited"
    otsd_server.client().list_table()


def _raises(call, status, code, message=None):
    with pytest.raises(tablestore.OTSServiceError) as e:
        call()
    assert_service_error(e, status, code, message)


# ---- GetRange limit ---------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, -1, -(2**31)])
def test_get_range_non_positive_limit_is_rejected(client, simple_table, limit):
    _raises(
        lambda: client.get_range(simple_table, Direction.FORWARD, *FULL_RANGE, limit=limit, max_version=1),
        400, "OTSParameterInvalid", "The limit must be greater than 0.",
    )


def test_get_range_int32_max_limit_returns_everything(client, simple_table):
    for i in range(3):
        client.put_row(simple_table, Row([("uid", "r"), ("seq", i)], [("v", i)]))
    _, next_pk, rows, _ = client.get_range(
        simple_table, Direction.FORWARD, *FULL_RANGE, limit=2**31 - 1, max_version=1
    )
    assert [r.primary_key[1][1] for r in rows] == [0, 1, 2]
    assert next_pk is None


# ---- max_versions -----------------------------------------------------------------------


@pytest.mark.parametrize("max_version", [0, -5, -(2**31)])
def test_non_positive_max_versions_is_rejected(client, simple_table, max_version):
    _raises(lambda: client.get_row(simple_table, PK, max_version=max_version), 400, "OTSParameterInvalid")
    _raises(
        lambda: client.get_range(simple_table, Direction.FORWARD, *FULL_RANGE, max_version=max_version),
        400, "OTSParameterInvalid",
    )
    get = BatchGetRowRequest()
    get.add(TableInBatchGetRowItem(simple_table, [PK], max_version=max_version))
    [row] = client.batch_get_row(get).get_result_by_table(simple_table)
    assert not row.is_ok and row.error_code == "OTSParameterInvalid"


def test_int32_max_versions_reads_every_version(client, simple_table):
    client.put_row(simple_table, Row(PK, [("v", 1)]))
    _, row, _ = client.get_row(simple_table, PK, max_version=2**31 - 1)
    assert [c[1] for c in row.attribute_columns] == [1]


# ---- time_range -------------------------------------------------------------------------


@pytest.mark.parametrize("time_range", [(10, 5), (5, 5), (-1, 5), (I64_MIN, 0), (0, -1)])
def test_bad_time_range_is_rejected(client, simple_table, time_range):
    _raises(lambda: client.get_row(simple_table, PK, max_version=None, time_range=time_range), 400, "OTSParameterInvalid")
    _raises(
        lambda: client.get_range(simple_table, Direction.FORWARD, *FULL_RANGE, max_version=None, time_range=time_range),
        400, "OTSParameterInvalid",
    )


@pytest.mark.parametrize("specific", [-1, I64_MIN])
def test_negative_specific_time_is_rejected(client, simple_table, specific):
    _raises(lambda: client.get_row(simple_table, PK, max_version=None, time_range=specific), 400, "OTSParameterInvalid")


@pytest.mark.parametrize("time_range", [(0, I64_MAX), I64_MAX, (I64_MAX - 1, I64_MAX)])
def test_extreme_time_ranges_read_without_error(client, simple_table, time_range):
    client.put_row(simple_table, Row(PK, [("v", 1)]))
    _, row, _ = client.get_row(simple_table, PK, max_version=None, time_range=time_range)
    if time_range == (0, I64_MAX):
        assert row.attribute_columns[0][1] == 1
    else:
        # No version in range: the row (it exists) comes back without attribute cells.
        assert row is None or row.attribute_columns == []


# ---- names and key sizes ----------------------------------------------------------------


def test_pk_string_over_1kb_is_rejected_on_every_row_op(client, simple_table):
    big = [("uid", "x" * 1025), ("seq", 1)]
    _raises(lambda: client.get_row(simple_table, big, max_version=1), 400, "OTSParameterInvalid")
    _raises(lambda: client.put_row(simple_table, Row(big, [("a", 1)])), 400, "OTSParameterInvalid")
    _raises(
        lambda: client.update_row(simple_table, Row(big, {"put": [("a", 1)]}), Condition("IGNORE")),
        400, "OTSParameterInvalid",
    )
    _raises(lambda: client.delete_row(simple_table, Row(big), Condition("IGNORE")), 400, "OTSParameterInvalid")
    _raises(
        lambda: client.get_range(simple_table, Direction.FORWARD, big, FULL_RANGE[1], max_version=1),
        400, "OTSParameterInvalid",
    )


def test_empty_table_name_is_rejected(client):
    _raises(lambda: create_table(client, "", [("k", "STRING")]), 400, "OTSParameterInvalid")
    _raises(lambda: client.describe_table(""), 400, "OTSParameterInvalid")
    _raises(lambda: client.get_row("", [("k", "a")], max_version=1), 400, "OTSParameterInvalid")
    _raises(lambda: client.put_row("", Row([("k", "a")], [("c", 1)])), 400, "OTSParameterInvalid")
    _raises(lambda: client.delete_table(""), 400, "OTSParameterInvalid")


def test_table_name_of_256_bytes_is_rejected(client):
    _raises(lambda: create_table(client, "t" * 256, [("k", "STRING")]), 400, "OTSParameterInvalid")


def test_column_name_of_256_bytes_is_rejected_255_accepted(client, simple_table):
    _raises(lambda: client.put_row(simple_table, Row(PK, [("c" * 256, 1)])), 400, "OTSParameterInvalid")
    _raises(
        lambda: client.update_row(simple_table, Row(PK, {"put": [("c" * 256, 1)]}), Condition("IGNORE")),
        400, "OTSParameterInvalid",
    )
    client.put_row(simple_table, Row(PK, [("c" * 255, 1)]))
    _, row, _ = client.get_row(simple_table, PK, max_version=1)
    assert row.attribute_columns[0][0] == "c" * 255


def test_pk_column_name_of_256_bytes_is_rejected(client, table_name):
    _raises(lambda: create_table(client, table_name, [("k" * 256, "STRING")]), 400, "OTSParameterInvalid")


def test_more_than_128_columns_to_get_is_rejected(client, simple_table):
    names = [f"c{i}" for i in range(129)]
    _raises(lambda: client.get_row(simple_table, PK, columns_to_get=names, max_version=1), 400, "OTSParameterInvalid")
    _raises(
        lambda: client.get_range(simple_table, Direction.FORWARD, *FULL_RANGE, columns_to_get=names, max_version=1),
        400, "OTSParameterInvalid",
    )


def test_huge_columns_to_get_is_rejected(client, simple_table):
    names = [f"c{i}" for i in range(20000)]
    _raises(lambda: client.get_row(simple_table, PK, columns_to_get=names, max_version=1), 400, "OTSParameterInvalid")


# ---- UpdateRow --------------------------------------------------------------------------


def test_update_row_without_columns_is_rejected(client, simple_table):
    _raises(lambda: client.update_row(simple_table, Row(PK, {"put": []}), Condition("IGNORE")), 400, "OTSParameterInvalid")
    _, row, _ = client.get_row(simple_table, PK, max_version=1)
    assert row is None


def test_increment_on_a_string_column_is_rejected(client, simple_table):
    client.put_row(simple_table, Row(PK, [("s", "text")]))
    _raises(
        lambda: client.update_row(simple_table, Row(PK, {"increment": [("s", 1)]}), Condition("IGNORE")),
        400, "OTSParameterInvalid",
    )
    _, row, _ = client.get_row(simple_table, PK, max_version=1)
    assert row.attribute_columns[0][1] == "text"


@pytest.mark.parametrize("start,delta", [(I64_MAX, 1), (I64_MIN, -1), (I64_MAX, I64_MAX), (I64_MIN, I64_MIN)])
def test_increment_overflow_is_refused_and_changes_nothing(client, simple_table, start, delta):
    # The atomic counter docs: an integer overflow answers OTSParameterInvalid.
    client.put_row(simple_table, Row(PK, [("n", start)]))
    _raises(
        lambda: client.update_row(simple_table, Row(PK, {"increment": [("n", delta)]}), Condition("IGNORE")),
        400, "OTSParameterInvalid",
    )
    _, row, _ = client.get_row(simple_table, PK, max_version=1)
    assert row.attribute_columns[0][1] == start


# ---- batches ----------------------------------------------------------------------------


def test_batch_write_of_201_rows_is_rejected_200_accepted(client, simple_table):
    def batch(n):
        req = BatchWriteRowRequest()
        req.add(TableInBatchWriteRowItem(
            simple_table,
            [PutRowItem(Row([("uid", "b"), ("seq", i)], [("v", i)]), Condition("IGNORE")) for i in range(n)],
        ))
        return req

    _raises(lambda: client.batch_write_row(batch(201)), 400, "OTSParameterInvalid")
    assert client.batch_write_row(batch(200)).is_all_succeed()


def test_batch_get_of_101_rows_is_rejected_100_accepted(client, simple_table):
    def batch(n):
        req = BatchGetRowRequest()
        req.add(TableInBatchGetRowItem(simple_table, [[("uid", "g"), ("seq", i)] for i in range(n)], max_version=1))
        return req

    _raises(lambda: client.batch_get_row(batch(101)), 400, "OTSParameterInvalid")
    rows = client.batch_get_row(batch(100)).get_result_by_table(simple_table)
    assert len(rows) == 100 and all(r.is_ok for r in rows)


# ---- missing tables and instances -------------------------------------------------------


def test_delete_row_on_a_missing_table_is_404(client):
    _raises(
        lambda: client.delete_row("no_such_table_edge", Row([("k", 1)]), Condition("IGNORE")),
        404, "OTSObjectNotExist", "Requested table does not exist.",
    )


def test_unknown_instance_has_no_tables(otsd_server, simple_table):
    other = otsd_server.client(instance="edgeUnknownInstance")
    assert simple_table not in other.list_table()
    _raises(lambda: other.describe_table(simple_table), 404, "OTSObjectNotExist", "Requested table does not exist.")


@pytest.mark.parametrize("instance", ["bad/instance", "..", "i" * 65])
def test_malformed_instance_name_is_not_found(otsd_server, instance):
    """A name that can never be an instance gets the service's answer for a missing one."""
    assert instance != INSTANCE
    bad = otsd_server.client(instance=instance)
    _raises(lambda: bad.list_table(), 403, "OTSAuthFailed", "The instance is not found.")
    _raises(lambda: bad.describe_table("t"), 403, "OTSAuthFailed", "The instance is not found.")


# ---- ColumnPaginationFilter (the Python SDK has no class for it: encode it here) ---------


class _Pagination(ColumnCondition):
    def __init__(self, offset, limit):
        self.offset = offset
        self.limit = limit

    def get_type(self):
        return "COLUMN_PAGINATION"


@pytest.fixture
def pagination_encoder(monkeypatch):
    original = sdk_encoder.OTSProtoBufferEncoder._make_column_condition

    def make(self, proto, condition):
        if isinstance(condition, _Pagination):
            proto.type = filter_pb2.FT_COLUMN_PAGINATION
            proto.filter = filter_pb2.ColumnPaginationFilter(
                offset=condition.offset, limit=condition.limit
            ).SerializeToString()
            return
        original(self, proto, condition)

    monkeypatch.setattr(sdk_encoder.OTSProtoBufferEncoder, "_make_column_condition", make)


def test_column_pagination_pages_a_wide_row(client, simple_table, pagination_encoder):
    client.put_row(simple_table, Row(PK, [(f"c{i}", i) for i in range(5)]))
    _, row, _ = client.get_row(simple_table, PK, column_filter=_Pagination(1, 2), max_version=1)
    assert [c[0] for c in row.attribute_columns] == ["c1", "c2"]
    _, row, _ = client.get_row(simple_table, PK, column_filter=_Pagination(2**31 - 1, 2**31 - 1), max_version=1)
    assert row.attribute_columns == []


def test_column_pagination_pages_the_columns_to_get(client, simple_table, pagination_encoder):
    client.put_row(simple_table, Row(PK, [(f"c{i}", i) for i in range(5)]))
    _, row, _ = client.get_row(
        simple_table, PK, columns_to_get=["c3", "c4", "c1"], column_filter=_Pagination(1, 1), max_version=1
    )
    assert [c[0] for c in row.attribute_columns] == ["c3"]
    _, _, rows, _ = client.get_range(
        simple_table, Direction.FORWARD, *FULL_RANGE, columns_to_get=["c2", "c4"],
        column_filter=_Pagination(1, 5), max_version=1,
    )
    assert [[c[0] for c in r.attribute_columns] for r in rows] == [["c4"]]


@pytest.mark.parametrize("offset,limit", [(-1, 1), (0, 0), (0, -1), (-(2**31), -(2**31))])
def test_column_pagination_with_negative_offset_or_limit_is_rejected(
    client, simple_table, pagination_encoder, offset, limit
):
    pager = _Pagination(offset, limit)
    _raises(lambda: client.get_row(simple_table, PK, column_filter=pager, max_version=1), 400, "OTSParameterInvalid")
    _raises(
        lambda: client.get_range(simple_table, Direction.FORWARD, *FULL_RANGE, column_filter=pager, max_version=1),
        400, "OTSParameterInvalid",
    )


def test_column_pagination_as_a_write_condition_is_rejected(client, simple_table, pagination_encoder):
    _raises(
        lambda: client.put_row(simple_table, Row(PK, [("a", 1)]), Condition("IGNORE", _Pagination(0, 1))),
        400, "OTSParameterInvalid",
    )


# ---- filters and update shapes ----------------------------------------------------------


def _eq(column, value):
    return SingleColumnCondition(column, value, ComparatorType.EQUAL)


def test_more_than_10_conditions_is_rejected(client, simple_table):
    many = CompositeColumnCondition(LogicalOperator.OR)
    for i in range(11):
        many.add_sub_condition(_eq("a", i))
    _raises(lambda: client.get_row(simple_table, PK, column_filter=many, max_version=1), 400, "OTSParameterInvalid")
    _raises(
        lambda: client.put_row(simple_table, Row(PK, [("a", 1)]), Condition("IGNORE", many)),
        400, "OTSParameterInvalid",
    )


def test_composite_operand_counts_are_checked(client, simple_table):
    not_two = CompositeColumnCondition(LogicalOperator.NOT)
    not_two.add_sub_condition(_eq("a", 1))
    not_two.add_sub_condition(_eq("a", 2))
    and_one = CompositeColumnCondition(LogicalOperator.AND)
    and_one.add_sub_condition(_eq("a", 1))
    for bad in (not_two, and_one):
        _raises(lambda: client.get_row(simple_table, PK, column_filter=bad, max_version=1), 400, "OTSParameterInvalid")


def test_same_column_twice_in_update_row_is_rejected(client, simple_table):
    _raises(
        lambda: client.update_row(
            simple_table, Row(PK, {"put": [("a", 1)], "increment": [("a", 1)]}), Condition("IGNORE")
        ),
        400, "OTSParameterInvalid",
    )
    _, row, _ = client.get_row(simple_table, PK, max_version=1)
    assert row is None


def test_non_integer_increment_is_rejected(client, simple_table):
    _raises(
        lambda: client.update_row(simple_table, Row(PK, {"increment": [("n", "1")]}), Condition("IGNORE")),
        400, "OTSParameterInvalid",
    )


@pytest.mark.parametrize("cu", [(-1, 0), (0, 100001), (-(2**31), 2**31 - 1)])
def test_reserved_throughput_out_of_range_is_rejected(client, table_name, cu):
    _raises(lambda: create_table(client, table_name, [("k", "STRING")], cu=cu), 400, "OTSParameterInvalid")


def test_regex_condition_is_applied_rather_than_ignored(client, simple_table):
    """Comparing the raw value "id:42" with 42 would drop the row; the rule's cast group keeps it,
    and a group that casts to another number drops it."""
    client.put_row(simple_table, Row(PK, [("s", "id:42")]))
    rule = RegexRule("id:(\\d+)", CastType.VT_INTEGER)
    equal_42 = SingleColumnRegexCondition("s", ComparatorType.EQUAL, 42, rule)
    _, row, _ = client.get_row(simple_table, PK, column_filter=equal_42, max_version=1)
    assert row is not None and row.attribute_columns[0][1] == "id:42"
    equal_43 = SingleColumnRegexCondition("s", ComparatorType.EQUAL, 43, rule)
    _, row, _ = client.get_row(simple_table, PK, column_filter=equal_43, max_version=1)
    assert row is None
