# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mailrelay.smtp.exchange_transport_dns and exchange_accepted_domain against the fake Exchange."""

from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.action.exchange_accepted_domain import ActionModule as AcceptedDomain
from ansible_collections.mailrelay.smtp.plugins.action.exchange_transport_dns import ActionModule as TransportDns
from ansible_collections.mailrelay.smtp.tests.fakes.fake_exchange import FakeExchange
from ansible_collections.mailrelay.smtp.tests.unit.plugins.action._exchange_helpers import Run


@pytest.fixture
def fake():
    return FakeExchange(servers=("EX01", "EX02"))


def test_external_dns_servers_per_server(fake):
    args = {"server": "EX02", "external_dns_servers": ["192.0.2.53", "198.51.100.53"], "external_dns_protocol": "udp_only"}
    changed = Run(fake, TransportDns, args, diff=True)
    assert changed.result["changed"] is True, changed.result
    assert changed.modes == ["read", "apply"]
    assert changed.changing_cmdlets() == ["Set-TransportService"]
    assert fake.transport["EX02"]["ExternalDNSServers"] == ["192.0.2.53", "198.51.100.53"]
    assert fake.transport["EX02"]["ExternalDNSAdapterEnabled"] is False
    assert fake.transport["EX02"]["ExternalDNSProtocolOption"] == "UseUdpOnly"
    assert fake.transport["EX01"]["ExternalDNSServers"] == []
    assert "external_dns_servers: []" in changed.result["diff"]["before"]
    again = Run(fake, TransportDns, args)
    assert again.result["changed"] is False and again.modes == ["read"]
    assert again.result["transport_service"]["external_dns_servers"] == ["192.0.2.53", "198.51.100.53"]
    back = Run(fake, TransportDns, {"server": "EX02", "external_dns_servers": [], "external_dns_adapter_enabled": True})
    assert back.result["changed"] is True
    assert fake.transport["EX02"]["ExternalDNSServers"] == [] and fake.transport["EX02"]["ExternalDNSAdapterEnabled"] is True


def test_unknown_server(fake):
    result = Run(fake, TransportDns, {"server": "EX09", "external_dns_servers": []}).result
    assert result["failed"] is True and result["error_code"] == "not_found"


def test_accepted_domains_in_one_apply(fake):
    args = {"domains": [{"domain": "corp.example"}, {"domain": "mail.example"}, {"domain": "lab.example", "type": "internal_relay"}],
            "default_domain": "mail.example"}
    changed = Run(fake, AcceptedDomain, args, diff=True)
    assert changed.result["changed"] is True, changed.result
    assert changed.modes == ["read", "apply"]
    assert changed.changing_cmdlets() == ["New-AcceptedDomain", "New-AcceptedDomain", "Set-AcceptedDomain"]
    by_domain = {d["domain"]: d for d in fake.accepted_domains}
    assert by_domain["lab.example"]["type"] == "InternalRelay"
    assert by_domain["mail.example"]["default"] and not by_domain["corp.example"]["default"]
    again = Run(fake, AcceptedDomain, args)
    assert again.result["changed"] is False and again.modes == ["read"]
    assert {d["domain"] for d in again.result["accepted_domains"]} == {"corp.example", "mail.example", "lab.example"}


def test_default_domain_cannot_be_removed(fake):
    result = Run(fake, AcceptedDomain, {"domains": [{"domain": "corp.example", "state": "absent"}]})
    assert result.result["failed"] is True and "cannot be removed" in result.result["msg"]
    assert result.modes == ["read"]


def test_check_mode(fake):
    checked = Run(fake, AcceptedDomain, {"domains": [{"domain": "new.example"}]}, check_mode=True, diff=True)
    assert checked.result["changed"] is True and checked.modes == ["read"]
    assert "new.example (Authoritative)" in checked.result["diff"]["after"]
    assert [d["domain"] for d in fake.accepted_domains] == ["corp.example"]
