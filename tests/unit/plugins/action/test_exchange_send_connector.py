# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mailrelay.smtp.exchange_send_connector against the fake Exchange."""

from __future__ import annotations

import json

import pytest

from ansible_collections.mailrelay.smtp.plugins.action.exchange_send_connector import ActionModule
from ansible_collections.mailrelay.smtp.tests.fakes.fake_exchange import FakeExchange
from ansible_collections.mailrelay.smtp.tests.unit.plugins.action._exchange_helpers import Run

PASSWORD = "Sm4rt-H0st-Pass"
SMARTHOST = {
    "name": "mailrelay outbound",
    "routing": "smarthost",
    "smart_hosts": ["smtp.provider.example"],
    "port": 587,
    "tls": "required",
    "smarthost_authentication": "basic_require_tls",
    "username": "corp-relay",
    "password": PASSWORD,
    "source_transport_servers": ["EX01"],
}


@pytest.fixture
def fake():
    return FakeExchange()


def run(fake, args, **kwargs):
    return Run(fake, ActionModule, args, **kwargs)


def test_dns_routing_with_external_dns_then_no_op(fake):
    args = {"name": "mailrelay outbound", "routing": "dns", "use_external_dns": True, "source_transport_servers": ["EX01"], "max_message_size": "50MB"}
    created = run(fake, args)
    assert created.result["changed"] is True, created.result
    assert created.modes == ["read", "apply"]
    assert created.changing_cmdlets() == ["New-SendConnector"]
    connector = fake.send_connectors[0]
    assert connector["address_spaces"] == ["SMTP:*;1"] and connector["DNSRoutingEnabled"] and connector["UseExternalDNSServersEnabled"]
    assert connector["MaxMessageSize"] == 50 * 1024 * 1024
    again = run(fake, args)
    assert again.result["changed"] is False and again.modes == ["read"]


def test_smart_host_password_never_leaves_the_plugin_except_as_a_secure_string(fake):
    created = run(fake, SMARTHOST, diff=True)
    assert created.result["changed"] is True, created.result
    assert fake.send_connectors[0]["credential"].password == PASSWORD
    apply_call = created.call("apply")
    assert apply_call["secrets"] == {"SmartHostPassword": PASSWORD}
    assert PASSWORD not in json.dumps(apply_call["parameters"])
    assert PASSWORD not in json.dumps(created.call("read"))
    assert PASSWORD not in json.dumps(created.result)
    assert "password: (set)" in created.result["diff"]["after"]
    # on_create: the second run sends nothing, not even the password.
    again = run(fake, SMARTHOST)
    assert again.result["changed"] is False and again.modes == ["read"]
    assert again.call("read")["secrets"] == {}


def test_check_mode_with_a_password_still_hides_it(fake):
    checked = run(fake, dict(SMARTHOST, update_password="always"), check_mode=True, diff=True)
    assert checked.result["changed"] is True and checked.modes == ["read"]
    assert PASSWORD not in json.dumps(checked.result)
    assert fake.send_connectors == []


def test_update_password_always_sends_it_and_is_exempt_from_verification(fake):
    run(fake, SMARTHOST)
    rotated = run(fake, dict(SMARTHOST, password="New-Pass-2", update_password="always"))
    assert rotated.result["changed"] is True, rotated.result
    assert rotated.changing_cmdlets() == ["Set-SendConnector"]
    assert fake.send_connectors[0]["credential"].password == "New-Pass-2"
    assert "New-Pass-2" not in json.dumps(rotated.result)


def test_switch_from_smart_host_to_dns_in_one_call(fake):
    run(fake, SMARTHOST)
    switched = run(fake, {"name": "mailrelay outbound", "routing": "dns", "source_transport_servers": ["EX01"]})
    assert switched.result["changed"] is True, switched.result
    assert switched.changing_cmdlets() == ["Set-SendConnector"]
    connector = fake.send_connectors[0]
    assert connector["DNSRoutingEnabled"] is True and connector["SmartHosts"] == []
    assert connector["SmartHostAuthMechanism"] == "None"


def test_many_address_spaces_cost_one_apply(fake):
    spaces = ["partner%d.example;%d" % (i, 1 + i % 50) for i in range(300)]
    created = run(fake, {"name": "partners", "address_spaces": spaces, "smart_hosts": ["192.0.2.25"]})
    assert created.modes == ["read", "apply"]
    assert len(fake.send_connectors[0]["address_spaces"]) == 300
    assert fake.send_connectors[0]["SmartHosts"] == ["[192.0.2.25]"]
    again = run(fake, {"name": "partners", "address_spaces": list(reversed(spaces)), "smart_hosts": ["[192.0.2.25]"]})
    assert again.result["changed"] is False and again.modes == ["read"]


def test_unknown_source_server_is_reported(fake):
    result = run(fake, {"name": "x", "source_transport_servers": ["EX77"]}).result
    assert result["failed"] is True and result["error_code"] == "not_found"
    assert "EX77" in result["msg"]


def test_remove(fake):
    run(fake, SMARTHOST)
    removed = run(fake, {"name": "mailrelay outbound", "state": "absent"})
    assert removed.result["changed"] is True and fake.send_connectors == []
    assert removed.changing_cmdlets() == ["Remove-SendConnector"]


# ---- issue 15, item 4: a user name the remote session cannot read is unknown, not changed ---------


def test_basic_auth_through_the_remote_session_converges_when_the_user_name_is_unreadable(fake):
    assert fake.remote_credential_unreadable  # the fake's default: the credential arrives deserialized
    created = run(fake, SMARTHOST)
    assert created.result["changed"] is True, created.result
    assert fake.send_connectors[0]["credential"].username == "corp-relay"
    again = run(fake, SMARTHOST, diff=True)
    assert again.result["changed"] is False and again.modes == ["read"], again.result
    assert again.call("read")["secrets"] == {}
    assert again.result["connector"]["username"].startswith("(set; the user name is not readable")


def test_a_readable_user_name_that_differs_still_resends_the_credential(fake):
    fake.remote_credential_unreadable = False
    run(fake, SMARTHOST)
    renamed = run(fake, dict(SMARTHOST, username="corp-relay2"))
    assert renamed.result["changed"] is True and renamed.changing_cmdlets() == ["Set-SendConnector"], renamed.result
    assert fake.send_connectors[0]["credential"].username == "corp-relay2"
