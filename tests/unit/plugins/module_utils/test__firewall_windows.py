# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import ipaddress

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
    assert sorted(rules) == ["mailrelay hub mailrelay relay", "mailrelay hub mailrelay relay others", "mailrelay management"]
    hub = rules["mailrelay hub mailrelay relay"]
    assert (hub["direction"], hub["action"], hub["protocol"], hub["group"]) == ("in", "allow", "tcp", "mailrelay")
    assert (hub["localip"], hub["localport"]) == ("10.20.0.2", "25")
    assert hub["remoteip"] == "10.10.0.10,10.10.0.11,10.10.0.12"
    # Exchange Setup's own allow rules admit its SMTP port from anywhere; only a block rule wins over them.
    others = rules["mailrelay hub mailrelay relay others"]
    assert (others["action"], others["localip"], others["localport"]) == ("block", "10.20.0.2", "25")
    assert others["remoteip"] == "0.0.0.0-10.10.0.9,10.10.0.13-255.255.255.255"
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


def covered(ranges, address):
    """Whether the remoteip text ``ranges`` (``a-b`` or single addresses) names ``address``."""
    value = ipaddress.ip_address(address)
    for part in ranges.split(","):
        first, dummy, last = part.partition("-")
        if ipaddress.ip_address(first) <= value <= ipaddress.ip_address(last or first):
            return True
    return False


def test_the_block_rule_covers_every_other_address_and_none_of_the_senders():
    senders = ["10.0.0.5", "10.0.0.6", "10.0.0.0/30", "2001:db8::1"]
    ranges = _firewall_windows._complement(senders, 4)
    assert ranges == "0.0.0.0-9.255.255.255,10.0.0.4,10.0.0.7-255.255.255.255"
    for last in range(16):
        address = "10.0.0.%d" % last
        assert covered(ranges, address) is (last not in (0, 1, 2, 3, 5, 6)), address
    assert _firewall_windows._complement([], 6) == "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    assert _firewall_windows._complement(["0.0.0.0/0"], 4) == ""
    assert _firewall_windows._complement(["2001:db8::1"], 6) == (
        "::-2001:db8::,2001:db8::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")


def test_a_hub_nobody_forwards_to_is_blocked_for_everyone():
    desc = windows_description()
    desc["hub"]["servers"][0]["address"] = "2001:db8:20::2"
    rules = by_name(_firewall_windows.windows_rules(_topology.normalize(desc), "hub"))
    # No submission server or inbound relay speaks IPv6: no allow rule, and the block rule covers all of IPv6.
    assert "mailrelay hub mailrelay relay" not in rules
    assert rules["mailrelay hub mailrelay relay others"]["remoteip"] == "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"


def test_every_rule_is_owned_by_name_and_group():
    topology = _topology.normalize(windows_description())
    for host in ("hub", "sub", "mx2"):
        for rule in _firewall_windows.windows_rules(topology, host):
            assert rule["name"].startswith(_firewall_windows.NAME_PREFIX) and rule["group"] == _firewall_windows.GROUP
