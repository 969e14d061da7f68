# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mailrelay.smtp.iis_smtp_domain against a fake Windows host (tests/fakes/fake_metabase.py)."""

from __future__ import annotations

import functools
import json

from ansible_collections.mailrelay.smtp.plugins.action.iis_smtp_domain import ActionModule
from ansible_collections.mailrelay.smtp.tests.fakes.fake_metabase import FakeMetabase
from ansible_collections.mailrelay.smtp.tests.unit.utils.iis_smtp_action import apply_calls, run_action

run = functools.partial(run_action, ActionModule)

OWN = [{"name": "example.org", "allow_relay": True, "smart_host": "10.0.0.2"},
       {"name": "example.net", "allow_relay": True, "smart_host": "10.0.0.2"}]


def relay_host():
    host = FakeMetabase()
    index = host.add_server("mailrelay inbound relay", bindings=["192.0.2.11:25:"])
    host.add_domain(index, "inbound-relay.invalid", RouteAction=0x40)
    return host, index


def test_create_then_no_op():
    host, index = relay_host()
    args = {"server": "mailrelay inbound relay", "domains": OWN, "exclusive": True}
    result, stub = run(host, args)
    assert result["changed"] is True and stub.modes() == ["read", "apply"]
    assert stub.calls[0]["parameters"]["DomainsOf"] == "mailrelay inbound relay"
    domains = host.servers[index]["domains"]
    assert domains["example.org"]["props"] == {"RouteAction": 0x1002, "RouteActionString": "[10.0.0.2]"}
    assert [d["name"] for d in result["domains"]] == ["example.net", "example.org", "inbound-relay.invalid"]
    result, stub = run(host, args)
    assert result["changed"] is False and stub.modes() == ["read"]


def test_exclusive_removes_undeclared_but_not_the_default_domain():
    host, index = relay_host()
    host.add_domain(index, "stale.example", RouteAction=0x1002, RouteActionString="[10.0.0.7]")
    result, stub = run(host, {"server": "mailrelay inbound relay", "domains": OWN, "exclusive": True}, diff=True)
    assert sorted(host.servers[index]["domains"]) == ["example.net", "example.org", "inbound-relay.invalid"]
    assert result["diff"]["before"]["domains"]["stale.example"]["smart_host"] == "[10.0.0.7]"
    assert result["diff"]["after"]["domains"]["stale.example"] == "(absent)"
    assert "delete_domain stale.example" in result["operations"]


def test_not_exclusive_keeps_undeclared():
    host, index = relay_host()
    host.add_domain(index, "kept.example", RouteAction=0x1002, RouteActionString="[10.0.0.7]")
    run(host, {"server": "mailrelay inbound relay", "domains": OWN})
    assert "kept.example" in host.servers[index]["domains"]


def test_change_and_removal_by_state():
    host, index = relay_host()
    run(host, {"server": "mailrelay inbound relay", "domains": OWN})
    changed = [dict(OWN[0], smart_host="10.0.0.3"), dict(OWN[1], state="absent")]
    result, stub = run(host, {"server": "mailrelay inbound relay", "domains": changed}, diff=True)
    assert result["changed"] is True
    assert host.servers[index]["domains"]["example.org"]["props"]["RouteActionString"] == "[10.0.0.3]"
    assert "example.net" not in host.servers[index]["domains"]
    assert result["diff"]["after"]["domains"]["example.org"]["smart_host"] == "[10.0.0.3]"


def test_check_mode_changes_nothing():
    host, index = relay_host()
    result, stub = run(host, {"server": "mailrelay inbound relay", "domains": OWN, "exclusive": True}, check_mode=True, diff=True)
    assert result["changed"] is True and stub.modes() == ["read"]
    assert sorted(host.servers[index]["domains"]) == ["inbound-relay.invalid"]
    assert result["diff"]["before"]["domains"]["example.org"] == "(absent)"


def test_missing_server_fails_but_check_mode_plans():
    host = FakeMetabase()
    result, dummy = run(host, {"server": "mailrelay inbound relay", "domains": OWN})
    assert result["failed"] is True and "does not exist" in result["msg"]
    result, dummy = run(host, {"server": "mailrelay inbound relay", "domains": OWN}, check_mode=True)
    assert result["changed"] is True and not result.get("failed")
    assert result["warnings"]


def test_thousand_domains_cost_one_read_and_one_apply():
    host, index = relay_host()
    many = [{"name": "d%04d.example" % i, "allow_relay": True, "smart_host": "10.0.0.2"} for i in range(1000)]
    args = {"server": "mailrelay inbound relay", "domains": many, "exclusive": True}
    result, stub = run(host, args)
    assert stub.modes() == ["read", "apply"]
    assert len(host.servers[index]["domains"]) == 1001
    result, stub = run(host, args)
    assert result["changed"] is False and stub.modes() == ["read"]
    result, stub = run(host, {"server": "mailrelay inbound relay", "domains": many[:10], "exclusive": True})
    assert stub.modes() == ["read", "apply"]
    assert len(host.servers[index]["domains"]) == 11


def test_wildcard_relay_domain_is_refused_on_internet_facing():
    host, index = relay_host()
    result, stub = run(host, {"server": "mailrelay inbound relay", "domains": [{"name": "*", "allow_relay": True}]})
    assert result["failed"] is True and "refusing an open relay" in result["msg"] and stub.calls == []
    result, stub = run(host, {"server": "mailrelay inbound relay", "domains": [{"name": "*", "allow_relay": True}], "allow_open_relay": True})
    assert result["changed"] is True


def test_domain_password_never_in_result():
    host, index = relay_host()
    secret = "Partner-pa55!"
    domain = {"name": "partner.example", "smart_host": "mx.partner.example", "tls": True, "authentication": "basic",
              "username": "example-org", "password": secret}
    result, stub = run(host, {"server": "mailrelay inbound relay", "domains": [domain]}, diff=True)
    assert secret not in json.dumps(result)
    assert all(secret not in json.dumps(call["parameters"]) for call in stub.calls)
    assert json.loads(apply_calls(stub)[0]["secrets"]["Secrets"]) == {"domain:partner.example": secret}
    assert host.servers[index]["domains"]["partner.example"]["props"]["RoutePassword"] == secret
    assert result["domains"][1]["password_set"] is True


def test_bad_input_fails_before_any_call():
    host, index = relay_host()
    result, stub = run(host, {"server": "mailrelay inbound relay", "domains": [{"name": "a..b"}]})
    assert result["failed"] is True and "domains[0].name" in result["msg"] and stub.calls == []


def test_allow_relay_is_reported_as_unconfirmed_in_every_run():
    """Issue 15, item 3: the task's output says that RouteAction 0x1000 is inferred."""
    host, dummy = relay_host()
    args = {"server": "mailrelay inbound relay", "domains": OWN, "exclusive": True}
    for expected_change in (True, False):
        result, dummy_stub = run(host, args)
        assert result["changed"] is expected_change
        assert len(result["unconfirmed"]) == 1 and "RouteAction bit 0x1000" in result["unconfirmed"][0]
    result, dummy_stub = run(host, {"server": "mailrelay inbound relay", "domains": [{"name": "example.org", "smart_host": "10.0.0.2"}]})
    assert "unconfirmed" not in result
