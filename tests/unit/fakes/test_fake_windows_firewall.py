# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fake win_firewall_rule keeps the contract of community.windows.win_firewall_rule (3.x source and docs)."""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.tests.fakes.fake_windows_host import FakeWindowsHost

RULE = {"name": "mailrelay x", "group": "mailrelay", "direction": "in", "action": "block", "protocol": "tcp",
        "localip": "192.0.2.2", "localport": "25", "remoteip": "10.0.0.1,10.0.0.2", "profiles": ["domain", "private", "public"],
        "enabled": True, "state": "present"}


def run(host, check_mode=False, **args):
    return host.run("win_firewall_rule", dict(args, _ansible_check_mode=check_mode))


def test_create_then_no_change_then_only_the_passed_options_change():
    host = FakeWindowsHost()
    assert run(host, check_mode=True, **RULE)["changed"] and "mailrelay x" not in [r["Name"] for r in host.firewall_rules]
    assert run(host, **RULE)["changed"]
    (rule,) = [r for r in host.firewall_rules if r["Name"] == "mailrelay x"]
    assert (rule["Action"], rule["Direction"], rule["Protocol"], rule["Profiles"], rule["RemotePorts"]) == (0, 1, 6, 0x7fffffff, "*")
    # Address lists compare as sets, as the module does.
    reordered = dict(RULE)
    reordered["remoteip"] = "10.0.0.2,10.0.0.1"
    assert not run(host, **reordered)["changed"]
    # Options the task does not pass are not compared.
    assert not run(host, name="mailrelay x", localport="25")["changed"]
    result = run(host, name="mailrelay x", remoteip="any")
    assert result["changed"] and rule["RemoteAddresses"] == "*"
    assert result["diff"]["prepared"] == "[mailrelay x]\n-RemoteAddresses='10.0.0.1,10.0.0.2'\n+RemoteAddresses='*'"


def test_absent_removes_every_rule_of_the_name_and_a_group_alone_creates_nothing():
    host = FakeWindowsHost()
    before = list(host.firewall_rules)
    run(host, **RULE)
    assert not run(host, group="mailrelay-other", enabled=True)["changed"]
    assert run(host, name="mailrelay x", state="absent")["changed"]
    assert host.firewall_rules == before
    assert not run(host, name="mailrelay x", state="absent")["changed"]
    assert run(host)["failed"]
