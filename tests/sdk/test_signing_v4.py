"""Requests signed with V4 (HMAC-SHA256 under a key derived from the secret, sign date and
region), which the Python SDK uses when the client is given a region: verified by otsd, and
otsd's responses signed with the derived key, which the SDK checks."""

import pytest
import tablestore
from tablestore import Row
from tablestore.retry import NoRetryPolicy

from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, INSTANCE, assert_service_error


def v4_client(server, secret=ACCESS_KEY_SECRET, **kwargs):
    return tablestore.OTSClient(
        server.endpoint, ACCESS_KEY_ID, secret, INSTANCE,
        region="cn-hangzhou", retry_policy=NoRetryPolicy(), logger_name="otsd-sdk-tests",
        **kwargs,
    )


def test_v4_client_writes_and_reads(otsd_server, simple_table):
    client = v4_client(otsd_server)
    assert simple_table in client.list_table()
    for seq in range(3):
        client.put_row(simple_table, Row([("uid", "v4"), ("seq", seq)], [("c", f"value {seq}")]))
    _, row, _ = client.get_row(simple_table, [("uid", "v4"), ("seq", 2)], max_version=1)
    assert row.attribute_columns[0][1] == "value 2"


def test_v4_clients_of_other_sign_dates_and_regions_alternate(otsd_server, simple_table):
    # Each client derives its own key; the server must not answer one with another's key.
    clients = [
        v4_client(otsd_server),
        v4_client(otsd_server, sign_date="20260101"),
        tablestore.OTSClient(otsd_server.endpoint, ACCESS_KEY_ID, ACCESS_KEY_SECRET, INSTANCE,
                             region="cn-shanghai", retry_policy=NoRetryPolicy(),
                             logger_name="otsd-sdk-tests"),
        otsd_server.client(),  # V2
    ]
    for round_ in range(3):
        for i, client in enumerate(clients):
            pk = [("uid", f"alt{i}"), ("seq", round_)]
            client.put_row(simple_table, Row(pk, [("c", round_)]))
            _, row, _ = client.get_row(simple_table, pk, max_version=1)
            assert row.attribute_columns[0][1] == round_


def test_v4_wrong_secret_is_refused(otsd_server, simple_table):
    client = v4_client(otsd_server, secret="not-the-secret")
    with pytest.raises(Exception) as e:
        client.get_row(simple_table, [("uid", "v4"), ("seq", 0)], max_version=1)
    assert_service_error(e, 403, "OTSAuthFailed")
