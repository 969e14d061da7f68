# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mailrelay.smtp.plugins.filter.publishing import FilterModule
from ansible_collections.mailrelay.smtp.plugins.module_utils import _nftables

from ..module_utils.test__publishing import description

FILTERS = FilterModule().filters()


def test_the_gateway_gets_a_forwarding_table_and_a_job_host_an_input_filter():
    gateway = FILTERS["publishing_firewall"](description(), "gw")
    assert gateway["gateway"] is True and gateway["ipv6"] is False
    assert _nftables.check_content("inet", "mailrelay", gateway["table"]) == []
    assert "dnat ip to 10.10.0.11:25" in gateway["table"]
    hub = FILTERS["publishing_firewall"](description(), "hub")
    assert hub["gateway"] is False and "hook input" in hub["table"] and "dnat" not in hub["table"]
    assert FILTERS["publishing_firewall"](description(), "nobody") == {"table": "", "gateway": False, "ipv6": False, "windows_rules": []}


def test_a_windows_hub_gets_firewall_rules_instead_of_a_table():
    desc = description()
    desc["hub"]["servers"][0]["platform"] = "exchange"
    desc["inbound_relay"]["recipient_validation"] = "off"
    hub = FILTERS["publishing_firewall"](desc, "hub")
    assert hub["table"] == ""
    assert [rule["name"] for rule in hub["windows_rules"]] == [
        "mailrelay hub mailrelay relay", "mailrelay hub mailrelay relay others", "mailrelay management"]


def test_an_ipv6_management_network_asks_the_gateway_to_forward_ipv6():
    desc = description(management={"networks": ["fd99::/64"]})
    assert FILTERS["publishing_firewall"](desc, "gw")["ipv6"] is True


def test_firewalled_hosts_and_refusal():
    assert FILTERS["publishing_firewalled_hosts"](description()) == ["gw", "hub", "mx1", "mx2", "sub"]
    with pytest.raises(AnsibleFilterError, match="publishing.management.networks: required"):
        FILTERS["publishing_firewall"](description(management=None), "gw")
