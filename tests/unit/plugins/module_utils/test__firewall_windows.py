# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _firewall_windows, _topology

from .test__publishing import description


def windows_description():
    desc = description()
    desc["submission"]["servers"][0]["platform"] = "iis"
    desc["inbound_relay"]["servers"][1]["platform"] = "iis"
    desc["hub"]["servers"][0]["platform"] = "exchange"
    # An Exchange hub's recipients are unknown to the relay: the description says how to treat them.
    desc["inbound_relay"]["recipient_validation"] = "off"
    return desc


def by_name(rules):
    return {rule["name"]: rule for rule in rules}


def test_the_exchange_hub_admits_smtp_only_from_the_relays_and_management_from_its_network():
    rules = by_name(_firewall_windows.windows_rules(_topology.normalize(windows_description()), "hub"))
    assert sorted(rules) == ["mailrelay hub mailrelay relay", "mailrelay management"]
    hub = rules["mailrelay hub mailrelay relay"]
    assert (hub["direction"], hub["action"], hub["protocol"]) == ("in", "allow", "tcp")
    assert (hub["localip"], hub["localport"]) == ("10.20.0.2", "25")
    assert hub["remoteip"] == "10.10.0.10,10.10.0.11,10.10.0.12"
    management = rules["mailrelay management"]
    assert (management["localport"], management["remoteip"]) == ("22,5985,5986", "10.99.0.0/24")


def test_published_iis_servers_admit_any_client_on_their_own_address_and_port():
    topology = _topology.normalize(windows_description())
    submission = by_name(_firewall_windows.windows_rules(topology, "sub"))["mailrelay submission mailrelay submission"]
    assert (submission["localip"], submission["localport"], submission["remoteip"]) == ("10.10.0.10", "587", "any")
    relay = by_name(_firewall_windows.windows_rules(topology, "mx2"))["mailrelay inbound_relay mailrelay inbound relay"]
    assert (relay["localip"], relay["localport"], relay["remoteip"]) == ("10.10.0.12", "2525", "any")


def test_postfix_hosts_and_descriptions_without_publishing_get_no_windows_rules():
    topology = _topology.normalize(windows_description())
    assert _firewall_windows.windows_rules(topology, "mx1") == []
    desc = windows_description()
    del desc["publishing"]
    assert _firewall_windows.windows_rules(_topology.normalize(desc), "hub") == []
