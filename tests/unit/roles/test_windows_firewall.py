# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Windows Firewall rules of IIS SMTP and Exchange hosts (issue 12, item 3), on the fake Windows host.

playbooks/publishing.yml runs site.yml and then the windows_firewall role with the
rules the topology's publishing part derives; the role is also run alone for what
it owns and what it leaves alone. Everything above the fake host and the fake
modules (conftest.py) is real.
"""

from __future__ import annotations

import json
import sys

import yaml

from ansible_collections.mailrelay.smtp.tests.fakes.fake_exchange import FakeExchange

OUTSIDE = {"submission": "198.51.100.10", "inbound_relay": "198.51.100.11"}
TOPOLOGY = {
    "domains": ["example.org"],
    "submission": {
        "servers": [{"host": "winfake", "address": "10.10.0.10", "platform": "iis", "hostname": "smtp.example.org"}],
        "users": [{"login": "alice@example.org", "password": "Windows-Account-Pw1"}],
    },
    "inbound_relay": {
        "servers": [{"host": "winfake", "address": "10.10.0.11", "platform": "iis", "hostname": "mx.example.org"}],
        # An Exchange hub's recipients are unknown to the relay.
        "recipient_validation": "off",
    },
    "hub": {"servers": [{"host": "winfake", "address": "10.20.0.2", "platform": "exchange"}]},
    "tls": {"cert_file": "/etc/ssl/hub.pem", "key_file": "/etc/ssl/hub.key"},
    "outbound": {"method": "dns"},
    "publishing": {
        "gateways": [{"host": "gw", "outside_interface": "out0", "inside_interfaces": ["dmz0", "lan0"]}],
        "published": [{"job": job, "host": "winfake", "outside_address": address} for job, address in sorted(OUTSIDE.items())],
        "management": {"networks": ["10.99.0.0/24"]},
        "dns_servers": ["10.20.0.53"],
    },
}


def inventory():
    hosts = {
        "winfake": {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "iis_smtp_submission_certificate_thumbprint": "0123456789ABCDEF0123456789ABCDEF01234567",
        },
        "gw": {"ansible_host": "10.99.0.1"},
    }
    return yaml.safe_dump({"all": {"hosts": hosts, "vars": {"mailrelay_topology": TOPOLOGY}}})


def owned(host):
    return {rule["Name"]: rule for rule in host.firewall_rules if rule["Grouping"] == "mailrelay"}


def test_publishing_applies_the_derived_rules_to_the_windows_host_and_reruns_without_changes(fake_windows):
    exchange = FakeExchange(servers=("winfake",), local_server="winfake")
    play, host = fake_windows("mailrelay.smtp.publishing", inventory(), exchange=exchange)
    report, stats = play("-e", "mailrelay_hosts=winfake")
    assert stats["changed"] > 0
    fake = host()
    rules = owned(fake)
    assert sorted(rules) == [
        "mailrelay hub mailrelay relay", "mailrelay hub mailrelay relay others", "mailrelay inbound_relay mailrelay inbound relay",
        "mailrelay management", "mailrelay submission mailrelay submission"]
    hub = rules["mailrelay hub mailrelay relay"]
    # INetFwRule values: inbound (1), allow (1), TCP (6), all profiles.
    assert (hub["Direction"], hub["Action"], hub["Protocol"], hub["Profiles"]) == (1, 1, 6, 0x7fffffff)
    assert (hub["LocalAddresses"], hub["LocalPorts"], hub["RemoteAddresses"]) == ("10.20.0.2", "25", "10.10.0.10,10.10.0.11")
    others = rules["mailrelay hub mailrelay relay others"]
    assert (others["Action"], others["LocalAddresses"], others["LocalPorts"]) == (0, "10.20.0.2", "25")
    assert others["RemoteAddresses"] == "0.0.0.0-10.10.0.9,10.10.0.12-255.255.255.255"
    relay = rules["mailrelay inbound_relay mailrelay inbound relay"]
    assert (relay["LocalAddresses"], relay["LocalPorts"], relay["RemoteAddresses"]) == ("10.10.0.11", "25", "*")
    submission = rules["mailrelay submission mailrelay submission"]
    assert (submission["LocalAddresses"], submission["LocalPorts"], submission["RemoteAddresses"]) == ("10.10.0.10", "587", "*")
    management = rules["mailrelay management"]
    assert (management["LocalPorts"], management["RemoteAddresses"]) == ("22,5985,5986", "10.99.0.0/24")
    # The host's own rules are untouched.
    assert any(rule["Name"] == "Windows Remote Management (HTTP-In)" for rule in fake.firewall_rules)
    # The jobs themselves were deployed by site.yml in the same run.
    assert fake.metabase.server_by_name("mailrelay inbound relay")[1]["props"]["ServerBindings"] == ["10.10.0.11:25:"]

    report, stats = play("-e", "mailrelay_hosts=winfake")
    assert stats["changed"] == 0, stats
    assert "Windows-Account-Pw1" not in json.dumps(report)


ROLE_ALONE = """
- name: The windows_firewall role alone
  hosts: winfake
  gather_facts: false
  roles:
    - role: mailrelay.smtp.windows_firewall
      vars:
        windows_firewall_rules: {rules}
"""


def rule(name, localport, remoteip, action="allow"):
    return {"name": name, "description": "test", "group": "mailrelay", "direction": "in", "action": action, "protocol": "tcp",
            "localip": "192.0.2.2", "localport": localport, "remoteip": remoteip, "profiles": ["domain", "private", "public"],
            "enabled": True, "state": "present"}


def foreign(name, group):
    return {"Name": name, "Grouping": group, "Description": "", "Direction": 1, "Action": 1, "Enabled": True,
            "Profiles": 0x7fffffff, "LocalAddresses": "*", "RemoteAddresses": "*", "LocalPorts": "25", "RemotePorts": "*",
            "Protocol": 6}


def task_results(report, name):
    return [task["hosts"]["winfake"] for playbook in report["plays"] for task in playbook["tasks"]
            if task["task"]["name"].split(" : ")[-1] == name]


def test_the_role_changes_and_removes_only_its_own_rules_and_check_mode_tells_the_truth(fake_windows, tmp_path):
    rules = [rule("mailrelay hub x", "25", "192.0.2.10"), rule("mailrelay management", "5986", "10.99.0.0/24")]
    play, host = fake_windows(ROLE_ALONE.format(rules=json.dumps(rules)))
    prepared = host()
    # Exchange Setup's own rule, a user's rule that merely shares the prefix, and one of the collection's
    # that the topology no longer derives, changed by hand.
    prepared.firewall_rules += [foreign("MSExchangeFrontendTransport (SMTP-In)", "MSExchange"),
                                foreign("mailrelay notes", "operations"), foreign("mailrelay hub old", "mailrelay")]
    prepared.save(str(tmp_path / "windows.pickle"))

    report, stats = play("--check", "--diff")
    assert stats["changed"] > 0
    assert host().firewall_rules == prepared.firewall_rules
    diffs = [item["diff"] for result in task_results(report, "Admit exactly the traffic the topology derives")
             for item in result["results"]]
    assert any("+RemoteAddresses='192.0.2.10'" in diff["prepared"] for diff in diffs), diffs
    removals = task_results(report, "Remove the collection's rules the topology no longer derives")
    assert [item["item"] for item in removals[0]["results"]] == ["mailrelay hub old"]

    play()
    names = [item["Name"] for item in host().firewall_rules]
    assert "mailrelay hub old" not in names
    assert {"MSExchangeFrontendTransport (SMTP-In)", "mailrelay notes", "Windows Remote Management (HTTP-In)"} <= set(names)
    assert sorted(owned(host())) == ["mailrelay hub x", "mailrelay management"]
    report, stats = play()
    assert stats["changed"] == 0, stats

    # A rule changed on the host is put back; the check run before says which property.
    drifted = host()
    next(item for item in drifted.firewall_rules if item["Name"] == "mailrelay hub x")["RemoteAddresses"] = "*"
    drifted.save(str(tmp_path / "windows.pickle"))
    report, stats = play("--check", "--diff")
    diffs = [item["diff"]["prepared"] for result in task_results(report, "Admit exactly the traffic the topology derives")
             for item in result["results"] if item["changed"]]
    assert diffs == ["[mailrelay hub x]\n-RemoteAddresses='*'\n+RemoteAddresses='192.0.2.10'"]
    play()
    assert owned(host())["mailrelay hub x"]["RemoteAddresses"] == "192.0.2.10"


def test_a_rule_the_collection_would_not_own_is_refused_before_anything_changes(fake_windows):
    rules = [rule("mailrelay hub x", "25", "192.0.2.10"), dict(rule("Remote Desktop", "3389", "any"))]
    play, host = fake_windows(ROLE_ALONE.format(rules=json.dumps(rules)))
    before = host().firewall_rules
    try:
        play()
    except AssertionError as exc:
        assert "every rule needs a unique name starting with 'mailrelay '" in str(exc)
    else:
        raise AssertionError("the role accepted a rule named 'Remote Desktop'")
    assert host().firewall_rules == before
    assert [name for name, dummy in host().calls] == []
