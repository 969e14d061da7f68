# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Transport service DNS settings and accepted domains, without any host."""

from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex
from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_domains as ad
from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_transport as td

SERVICE = {"transport_service": {
    "identity": "EX01", "external_dns_servers": [], "external_dns_adapter_enabled": True, "external_dns_protocol_option": "Any",
    "internal_dns_servers": [], "internal_dns_adapter_enabled": True, "internal_dns_protocol_option": "Any",
}}


def parts(plan):
    """(operations, before, after) of a ResourcePlan."""
    return plan.operations, plan.before, plan.after


def dns(**options):
    base = {"server": "EX01"}
    for side in ("external", "internal"):
        for key in ("dns_servers", "dns_adapter_enabled", "dns_protocol"):
            base["%s_%s" % (side, key)] = None
    base.update(options)
    return td.build_desired(base)


def test_dns_servers_imply_not_using_the_adapter_and_keep_their_order():
    ops, before, after = parts(td.plan(dns(external_dns_servers=["198.51.100.53", "192.0.2.53"]), td.decode(SERVICE, "EX01")))
    assert [(op["op"], op["parameters"]) for op in ops] == [("set_transport_service", {
        "Identity": "EX01", "ExternalDNSServers": ["198.51.100.53", "192.0.2.53"], "ExternalDNSAdapterEnabled": False,
    })]
    assert ops[0]["name"] == "external_dns_servers, external_dns_adapter_enabled"
    assert before["external_dns_servers"] == [] and after["external_dns_servers"] == ["198.51.100.53", "192.0.2.53"]
    current = {"transport_service": dict(
        SERVICE["transport_service"], external_dns_servers=["192.0.2.53", "198.51.100.53"], external_dns_adapter_enabled=False
    )}
    assert parts(td.plan(dns(external_dns_servers=["198.51.100.53", "192.0.2.53"]), td.decode(current, "EX01")))[0][0]["parameters"] == {
        "Identity": "EX01", "ExternalDNSServers": ["198.51.100.53", "192.0.2.53"]}


def test_empty_list_clears_and_no_change_is_no_operation():
    current = {"transport_service": dict(SERVICE["transport_service"], external_dns_servers=["192.0.2.53"], external_dns_adapter_enabled=False)}
    ops = parts(td.plan(dns(external_dns_servers=[], external_dns_adapter_enabled=True), td.decode(current, "EX01")))[0]
    assert ops[0]["parameters"] == {"Identity": "EX01", "ExternalDNSServers": None, "ExternalDNSAdapterEnabled": True}
    assert parts(td.plan(dns(external_dns_servers=[], external_dns_protocol="any"), td.decode(SERVICE, "EX01")))[0] == []


@pytest.mark.parametrize("options, message", [
    ({"external_dns_servers": ["dns.example"]}, "external_dns_servers[0]: 'dns.example' is not an IP address"),
    ({"external_dns_servers": ["192.0.2.53"], "external_dns_adapter_enabled": True}, "external_dns_adapter_enabled: Exchange ignores"),
    ({}, "nothing to manage"),
])
def test_bad_dns_input(options, message):
    with pytest.raises(ex.ExchangeInputError) as info:
        dns(**options)
    assert message in str(info.value)


def test_missing_transport_service_is_an_error():
    with pytest.raises(ex.ExchangeInputError, match="has no Transport service"):
        parts(td.plan(dns(external_dns_servers=[]), td.decode({}, "EX01")))


DOMAINS = {"accepted_domains": [
    {"name": "corp.example", "domain_name": "corp.example", "domain_type": "Authoritative", "default": True, "match_subdomains": False},
    {"name": "Partner", "domain_name": "partner.example", "domain_type": "InternalRelay", "default": False, "match_subdomains": False},
]}


def domains(entries, default=None):
    return ad.build_desired({"domains": entries, "default_domain": default})


def test_all_domains_in_one_plan():
    entries = [{"domain": "corp.example"}, {"domain": "Mail.Example"}, {"domain": "partner.example", "type": "authoritative"},
               {"domain": "old.example", "state": "absent"}]
    ops, before, after = parts(ad.plan(domains(entries, default="mail.example"), ad.decode(DOMAINS)))
    assert [(op["op"], op["parameters"]) for op in ops] == [
        ("new_accepted_domain", {"Name": "mail.example", "DomainName": "mail.example", "DomainType": "Authoritative"}),
        ("set_accepted_domain", {"Identity": "Partner", "DomainType": "Authoritative"}),
        ("set_accepted_domain", {"Identity": "mail.example", "MakeDefault": True}),
    ]
    assert "mail.example (Authoritative, default)" in after["accepted_domains"]
    assert "corp.example (Authoritative, default)" in before["accepted_domains"]


def test_wildcard_relay_domain_gets_a_valid_name():
    ops = parts(ad.plan(domains([{"domain": "*.lab.example", "type": "internal_relay"}]), ad.decode(DOMAINS)))[0]
    assert ops[0]["parameters"] == {"Name": "lab.example subdomains", "DomainName": "*.lab.example", "DomainType": "InternalRelay"}


def test_existing_domains_unchanged():
    assert parts(ad.plan(domains([{"domain": "corp.example"}], default="corp.example"), ad.decode(DOMAINS)))[0] == []


def test_removal_and_refusals():
    ops = parts(ad.plan(domains([{"domain": "partner.example", "state": "absent"}]), ad.decode(DOMAINS)))[0]
    assert [(op["op"], op["parameters"]) for op in ops] == [("remove_accepted_domain", {"Identity": "Partner"})]
    with pytest.raises(ex.ExchangeInputError, match="is the default accepted domain and cannot be removed"):
        parts(ad.plan(domains([{"domain": "corp.example", "state": "absent"}]), ad.decode(DOMAINS)))
    with pytest.raises(ex.ExchangeInputError, match="the name 'partner' is already used by the accepted domain partner.example"):
        parts(ad.plan(domains([{"domain": "new.example", "name": "partner"}]), ad.decode(DOMAINS)))
    with pytest.raises(ex.ExchangeInputError, match="default_domain: other.example is not an accepted domain"):
        parts(ad.plan(domains([], default="other.example"), ad.decode(DOMAINS)))


@pytest.mark.parametrize("entries, default, message", [
    ([{"domain": "corp.example"}, {"domain": "CORP.example."}], None, "domains[1].domain: corp.example is listed twice"),
    ([{"domain": "not a domain"}], None, "domains[0].domain"),
    ([{"domain": "*.corp.example"}], None, "domains[0].type: a wildcard domain cannot be authoritative"),
    ([{"domain": "a.example", "state": "absent"}], "a.example", "default_domain: a.example is also listed with state=absent"),
    ([], None, "nothing to manage"),
])
def test_bad_domain_input(entries, default, message):
    with pytest.raises(ex.ExchangeInputError) as info:
        domains(entries, default)
    assert message in str(info.value)
