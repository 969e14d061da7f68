# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mailrelay.smtp.iis_smtp_info against a fake Windows host."""

from __future__ import annotations

import functools

from ansible_collections.mailrelay.smtp.plugins.action.iis_smtp_info import ActionModule
from ansible_collections.mailrelay.smtp.plugins.module_utils import _iis_ip_security_list
from ansible_collections.mailrelay.smtp.tests.fakes.fake_metabase import FakeMetabase
from ansible_collections.mailrelay.smtp.tests.unit.utils.iis_smtp_action import run_action

run = functools.partial(run_action, ActionModule)


def sample_host():
    host = FakeMetabase.windows_default()
    index = host.add_server(
        "relay", bindings=["192.0.2.11:25:"], AuthFlags=1, RelayForAuth=0xFFFFFFFF,
        RelayIpList=_iis_ip_security_list.encode_blob(_iis_ip_security_list.AccessList(False, ["10.0.0.0/24", "10.0.1.5"])),
        SmartHost="[10.0.0.2]", SmartHostType=2, RouteAction=0x10C, RouteUserName="relay", RoutePassword="hidden-pw",
    )
    host.add_domain(index, "relay.invalid", RouteAction=0x40)
    host.add_domain(index, "example.org", RouteAction=0x1002, RouteActionString="[10.0.0.2]")
    host.add_domain(index, "alias.example.org", RouteAction=0x10)
    return host


def test_reports_every_server_decoded_in_one_read():
    result, stub = run(sample_host(), {})
    assert stub.modes() == ["read"]
    assert stub.calls[0]["parameters"]["DomainsOf"] == "*"
    assert result["changed"] is False and result["service_status"] == "Running"
    default, relay = result["servers"]
    # Unset RelayIpList: "only the list below" with nobody on it (issue 15, item 8).
    assert default["bindings"] == ["*:25"] and default["relay_ip_list"] == {"grant_by_default": False, "entries": []}
    assert relay["relay_ip_list"] == {"grant_by_default": False, "entries": ["10.0.0.0/24", "10.0.1.5/32"]}
    assert relay["authentication"] == ["anonymous"] and relay["relay_for_authenticated"] is True
    assert relay["outbound_authentication"] == "basic" and relay["outbound_tls"] is True
    assert relay["route_action_flags"] == ["ssl", "sasl", "auth_cleartext"]
    assert relay["outbound_password_set"] is True and "hidden-pw" not in str(result)
    assert relay["open_relay_risks"] == []
    assert {d["name"]: d["type"] for d in relay["domains"]} == {"alias.example.org": "alias", "example.org": "remote", "relay.invalid": "default"}


def test_flags_open_relays_and_undecodable_blobs_without_failing():
    host = FakeMetabase()
    host.add_server("open", bindings=["192.0.2.12:25:"], AuthFlags=1, RelayIpList=b"")
    host.add_server("broken", bindings=["192.0.2.13:25:"], AuthFlags=1, RelayIpList=b"\x01\x00\x00\x00")
    result, dummy = run(host, {"include_domains": False})
    open_relay, broken = result["servers"]
    assert "every address" in open_relay["open_relay_risks"][0]
    assert "cannot be decoded" in broken["relay_ip_list"]["error"]
    assert broken["open_relay_risks"]
    assert "domains" not in open_relay


def test_name_filter_and_check_mode():
    result, stub = run(sample_host(), {"name": "RELAY"}, check_mode=True)
    assert [server["name"] for server in result["servers"]] == ["relay"]
