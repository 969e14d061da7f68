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


def test_return_jobs_derives_every_host_once_and_hides_the_result():
    mixed = dict(DESCRIPTION,
                 inbound_relay={"servers": [{"host": "lab", "address": "192.0.2.12"}, {"host": "mx2", "address": "192.0.2.31", "platform": "iis"}]},
                 hub={"servers": [{"host": "lab", "address": "192.0.2.13"}], "submission_trust": "certificate"},
                 submission=dict(DESCRIPTION["submission"], servers=[{"host": "lab", "address": "192.0.2.11"}, {"host": "edge", "address": "192.0.2.20"}]))
    action = make_action(ActionModule, {"description": mixed, "return_jobs": True})
    action._execute_module = None
    result = action.run(task_vars={"ansible_play_hosts": ["lab", "mx2", "edge"]})
    assert not result.get("failed")
    # The jobs hold passwords: the whole result is shown censored, as with no_log.
    assert result["_ansible_no_log"] is True
    assert result["jobs_by_host"] == _topology.jobs_by_host(_topology.normalize(mixed))
    assert result["windows_hosts"] == ["mx2"] and result["dkim_hosts"] == []
    # The hub on lab reads the certificate of the submission server on edge where it lives.
    assert result["hub_foreign_certificates"] == [{"hub": "lab", "host": "edge", "cert_file": "/etc/ssl/m.pem"}]
    # Only the hubs of the play read: without lab in the play, nothing is read.
    action = make_action(ActionModule, {"description": mixed, "return_jobs": True})
    assert action.run(task_vars={"ansible_play_hosts": ["edge"]})["hub_foreign_certificates"] == []
    # Without return_jobs, nothing secret and nothing hidden.
    plain = run({"description": mixed})
    assert "jobs_by_host" not in plain and "_ansible_no_log" not in plain and PASSWORD_FREE(plain)


def test_dkim_hosts_are_the_postfix_hubs_that_sign():
    signing = dict(DESCRIPTION, dkim={"selectors": ["s2026"], "active": "s2026"})
    result = run({"description": signing, "return_jobs": True})
    assert not result.get("failed"), result.get("msg")
    assert result["dkim_hosts"] == ["lab"] and result["windows_hosts"] == []


def PASSWORD_FREE(result):  # pylint: disable=invalid-name
    dumped = json.dumps(result)
    return "very-secret-pw" not in dumped and "smarthost-secret" not in dumped
