# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.mailrelay.smtp.plugins.action.topology import ActionModule
from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology
from ansible_collections.mailrelay.smtp.tests.unit.utils.windows_action import make_action

DESCRIPTION = {
    "domains": ["example.org"],
    "tls": {"cert_file": "/etc/ssl/m.pem", "key_file": "/etc/ssl/m.key"},
    "submission": {
        "servers": [{"host": "lab", "address": "127.0.1.11"}],
        "users": [{"login": "alice@example.org", "password": "very-secret-pw"}],
    },
    "inbound_relay": {"servers": [{"host": "lab", "address": "127.0.1.12"}]},
    "hub": {"servers": [{"host": "lab", "address": "127.0.1.13"}]},
    "outbound": {"smarthost": {"host": "127.0.1.20", "tls": "encrypt", "username": "hub", "password": "smarthost-secret"}},
}


def run(args):
    action = make_action(ActionModule, args)
    action._execute_module = None  # any attempt to reach a host would fail loudly
    return action.run(task_vars={})


def test_summary_and_wiring_without_secrets():
    result = run({"description": DESCRIPTION, "inventory_hosts": ["lab"]})
    assert result["changed"] is False and not result.get("failed")
    assert result["hosts"] == {"lab": ["submission", "inbound_relay", "hub"]}
    assert result["wiring"]["lab"]["hub"]["hub_relay_clients"] == [{"address": "127.0.1.11"}]
    assert result["wiring"]["lab"]["submission"]["submission_next_hops"] == [{"address": "127.0.1.13", "port": 25}]
    dumped = json.dumps(result)
    assert "very-secret-pw" not in dumped and "smarthost-secret" not in dumped


def test_dns_servers_reach_every_hub_platform_without_a_warning():
    assert "warnings" not in run({"description": DESCRIPTION})
    exchange_hub = {"servers": [{"host": "ex01", "address": "192.0.2.13", "platform": "exchange"}]}
    by_dns = {"method": "dns", "dns_servers": ["192.0.2.53"]}
    # The relay cannot know an Exchange hub's recipients: the description says so.
    relay = dict(DESCRIPTION["inbound_relay"], recipient_validation="off")
    with_exchange = run({"description": dict(DESCRIPTION, hub=exchange_hub, outbound=by_dns, inbound_relay=relay)})
    assert not with_exchange.get("failed") and "warnings" not in with_exchange
    result = run({"description": dict(DESCRIPTION, outbound=by_dns)})
    assert result["changed"] is False and not result.get("failed") and "warnings" not in result
    # The Postfix hub gets them as its role variable: its instance writes its own resolv.conf.
    topology = _topology.normalize(dict(DESCRIPTION, outbound=by_dns))
    assert _topology.host_jobs(topology, "lab")["hub"]["hub_dns_servers"] == ["192.0.2.53"]


def test_problems_are_listed_with_their_field():
    bad = dict(DESCRIPTION, domains=["not a domain"])
    result = run({"description": bad})
    assert result["failed"] is True
    assert "domains[0]: 'not a domain' is not a domain name" in result["problems"]
    assert "domains[0]" in result["msg"]


def test_description_must_be_a_mapping():
    with pytest.raises(AnsibleActionFail, match="description"):
        run({"description": "nope"})
