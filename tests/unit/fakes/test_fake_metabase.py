# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fake Windows host keeps the contract it claims to follow (tests/fakes/fake_metabase.py)."""

from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.tests.fakes.fake_metabase import FakeMetabase
from ansible_collections.mailrelay.smtp.tests.unit.utils.windows_action import PayloadFailure


def read(host, specs, domains_of=""):
    return host.handle("iis_smtp", {"Mode": "read", "ServerProperties": specs, "DomainProperties": [], "DomainsOf": domains_of}, {})


def apply(host, operations, secrets=None):
    parameters = {"Mode": "apply", "Operations": operations, "ServerProperties": ["ServerComment:STRING:adsi"]}
    return host.handle("iis_smtp", parameters, secrets or {})


@pytest.mark.parametrize("parameters, message", [
    ({}, "missing mandatory parameters: Mode"),
    ({"Mode": ""}, 'does not belong to the set "read,apply"'),
    ({"Mode": "write"}, 'does not belong to the set "read,apply"'),
])
def test_missing_or_unknown_mode_fails_before_any_change(parameters, message):
    host = FakeMetabase()
    host.add_server("s")
    with pytest.raises(PayloadFailure, match=message):
        host.handle("iis_smtp", dict(parameters, Operations=[{"op": "delete_server", "server": "s"}]), {})
    assert host.server_by_name("s")[0] == 1


def test_mode_read_refuses_operations_and_changes_nothing():
    host = FakeMetabase()
    host.add_server("s")
    with pytest.raises(PayloadFailure, match="bad_operation: mode read takes no operations"):
        host.handle("iis_smtp", {"Mode": "read", "Operations": [{"op": "delete_server", "server": "s"}]}, {})
    assert host.server_by_name("s")[0] == 1 and host.operations_seen == []


def test_mode_apply_returns_the_state_after_in_the_read_format():
    host = FakeMetabase()
    host.add_server("s")
    after = apply(host, [{"op": "set_property", "server": "s", "name": "ServerComment", "type": "STRING", "via": "adsi", "value": "t"}])
    assert after == read(host, ["ServerComment:STRING:adsi"])
    assert [server["properties"] for server in after["servers"]] == [{"ServerComment": "t"}]


def test_dword_reads_back_as_adsi_int32_and_binary_as_base64():
    host = FakeMetabase()
    host.add_server("s", RelayForAuth=0xFFFFFFFF, RelayIpList=b"\x01\x02")
    props = read(host, ["RelayForAuth:DWORD:adsi", "RelayIpList:BINARY:wmi", "MaxMessageSize:DWORD:adsi"])["servers"][0]["properties"]
    assert props == {"RelayForAuth": -1, "RelayIpList": "AQI=", "MaxMessageSize": 2097152}


@pytest.mark.parametrize("spec, message", [
    ("NoSuchThing:DWORD:adsi", "cannot be found in the cache"),
    ("AuthFlags:STRING:adsi", "AuthFlags of SmtpSvc/1 is DWORD through adsi"),
    ("RelayIpList:BINARY:adsi", "through wmi"),
    ("bad spec", "bad_spec"),
])
def test_read_rejects_unknown_or_mistyped_properties(spec, message):
    host = FakeMetabase()
    host.add_server("s")
    with pytest.raises(PayloadFailure, match=message):
        read(host, [spec])


@pytest.mark.parametrize("operation, message", [
    ({"op": "set_property", "server": "s", "name": "AuthFlags", "type": "DWORD", "via": "adsi", "value": 0xFFFFFFFF}, "Cannot convert"),
    ({"op": "set_property", "server": "s", "name": "AuthFlags", "type": "STRING", "via": "adsi", "value": "1"}, "AuthFlags is DWORD"),
    ({"op": "set_property", "server": "s", "name": "ServerState", "type": "DWORD", "via": "adsi", "value": 2}, "read-only"),
    ({"op": "set_property", "server": "nope", "name": "AuthFlags", "type": "DWORD", "via": "adsi", "value": 1}, "no_server"),
    ({"op": "frobnicate", "server": "s"}, "bad_operation"),
    ({"op": "set_secret", "server": "s", "name": "RoutePassword", "secret": "k"}, "no_secret"),
])
def test_apply_fails_like_the_payload(operation, message):
    host = FakeMetabase()
    host.add_server("s")
    with pytest.raises(PayloadFailure, match=message):
        apply(host, [operation])


def test_creation_takes_the_next_free_index():
    host = FakeMetabase()
    host.add_server("one")
    host.add_server("two", bindings=["192.0.2.2:25:"])
    apply(host, [{"op": "delete_server", "server": "one"}])
    document = apply(host, [{"op": "create_server", "server": "three", "bindings": ["192.0.2.3:25:"]}])
    assert [(s["index"], s["properties"]["ServerComment"]) for s in document["servers"]] == [(1, "three"), (2, "two")]
    with pytest.raises(PayloadFailure, match="server_exists"):
        apply(host, [{"op": "create_server", "server": "THREE", "bindings": []}])


def test_a_duplicate_binding_keeps_the_second_server_from_starting():
    host = FakeMetabase()
    host.add_server("first", bindings=["192.0.2.1:25:"])
    host.add_server("second", bindings=["192.0.2.1:25:"], started=False)
    with pytest.raises(PayloadFailure, match="control_failed"):
        apply(host, [{"op": "start_server", "server": "second"}])
    assert host.server_by_name("second")[1]["state"] == 4


def test_stopped_service_starts_nothing():
    host = FakeMetabase(service_status="Stopped")
    host.add_server("s", started=False)
    with pytest.raises(PayloadFailure, match="service_stopped"):
        apply(host, [{"op": "start_server", "server": "s"}])


def test_unknown_operation_changes_nothing():
    host = FakeMetabase()
    host.add_server("s")
    with pytest.raises(PayloadFailure):
        apply(host, [{"op": "delete_server", "server": "s"}, {"op": "bogus"}])
    assert host.server_by_name("s")[0] == 1


def test_start_and_stop_need_the_server_command():
    """Issue 15: the ADSI methods alone are documented for web and FTP servers only."""
    host = FakeMetabase()
    host.add_server("s", bindings=["192.0.2.1:25:"], started=False)
    with pytest.raises(PayloadFailure, match="control_failed: start_server of 's' without ServerCommand 1"):
        apply(host, [{"op": "start_server", "server": "s"}])
    apply(host, [{"op": "start_server", "server": "s", "command": 1}])
    assert host.servers[1]["state"] == 2
    apply(host, [{"op": "stop_server", "server": "s", "command": 2}])
    assert host.servers[1]["state"] == 4


def test_a_domain_needs_the_domain_container():
    """Issue 15: IIsSmtpDomain keys live under /Domain; ADSI cannot add one under a missing parent."""
    host = FakeMetabase()
    apply(host, [{"op": "create_server", "server": "bare", "bindings": ["192.0.2.1:25:"]}])
    with pytest.raises(PayloadFailure, match="cannot find the path"):
        apply(host, [{"op": "create_domain", "server": "bare", "domain": "example.org"}])
    apply(host, [{"op": "create_domain", "server": "bare", "domain": "example.org", "container_class": "IIsConfigObject"}])
    assert list(host.servers[1]["domains"]) == ["example.org"]
    with pytest.raises(PayloadFailure, match="is not a metabase key this payload creates"):
        apply(host, [{"op": "create_server", "server": "odd", "bindings": ["192.0.2.2:25:"], "children": [{"name": "Root", "class": "IIsWebVirtualDir"}]}])
