# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Send connector model and plan, without any host."""

from __future__ import annotations

import json

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex
from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_send as sc


def params(**overrides):
    base = {
        "name": "mailrelay outbound", "state": "present", "usage": "internet", "address_spaces": ["*"], "routing": None,
        "smart_hosts": None, "port": None, "tls": "opportunistic", "tls_auth_level": None, "tls_domain": None,
        "smarthost_authentication": "none", "username": None, "password": None, "update_password": "on_create",
        "use_external_dns": None, "source_transport_servers": None, "max_message_size": None, "fqdn": None, "enabled": None,
    }
    base.update(overrides)
    return base


def raw(**overrides):
    base = {
        "name": "mailrelay outbound", "address_spaces": ["SMTP:*;1"], "dns_routing_enabled": True, "smart_hosts": [], "port": 25,
        "require_tls": False, "ignore_starttls": False, "tls_auth_level": "", "tls_domain": "", "smarthost_auth_mechanism": "None",
        "username": "", "use_external_dns_servers_enabled": False, "source_transport_servers": ["EX01"],
        "max_message_size": "35 MB (36,700,160 bytes)", "fqdn": "", "enabled": True,
    }
    base.update(overrides)
    return base


def plan_for(options, current=None):
    plan = sc.plan(sc.build_desired(params(**options)), sc.decode_connector(current) if current is not None else None)
    return plan.operations, plan.before, plan.after, plan.secrets


@pytest.mark.parametrize(
    "text, space",
    [
        ("*", ("SMTP", "*", 1)),
        ("Example.COM", ("SMTP", "example.com", 1)),
        ("smtp:*.example.com;5", ("SMTP", "*.example.com", 5)),
        ("example.com;10", ("SMTP", "example.com", 10)),
    ],
)
def test_address_spaces(text, space):
    assert sc.parse_address_space(text) == space


@pytest.mark.parametrize("text", ["X400:c=US;a= ;", "exa mple.com", "example.com;0", "example.com;x"])
def test_bad_address_spaces(text):
    with pytest.raises(ex.ExchangeInputError, match="address_spaces"):
        sc.parse_address_space(text)


def test_smart_host_keys():
    assert sc.parse_smart_host("[10.0.0.1]") == sc.parse_smart_host("10.0.0.1") == "10.0.0.1"
    assert sc.parse_smart_host("SMTP.Provider.example.") == "smtp.provider.example"
    with pytest.raises(ex.ExchangeInputError, match="the port goes into port"):
        sc.parse_smart_host("smtp.provider.example:587")


def test_create_by_dns_with_external_dns_servers():
    ops, before, after, secrets = plan_for({"use_external_dns": True, "source_transport_servers": ["EX01"]})
    assert [op["op"] for op in ops] == ["new_send_connector"]
    assert ops[0]["parameters"] == {
        "Name": "mailrelay outbound", "Usage": "Internet", "AddressSpaces": ["SMTP:*;1"], "DNSRoutingEnabled": True,
        "RequireTLS": False, "IgnoreSTARTTLS": False, "SmartHostAuthMechanism": "None", "UseExternalDNSServersEnabled": True,
        "SourceTransportServers": ["EX01"],
    }
    assert secrets == {} and before == {} and after["routing"] == "dns"


def test_unchanged_connector_needs_nothing():
    assert plan_for({"source_transport_servers": ["ex01.corp.example"], "address_spaces": ["smtp:*;1"]}, raw())[0] == []


def test_smart_host_with_credentials_sends_the_password_only_as_a_secret():
    options = {"routing": "smarthost", "smart_hosts": ["smtp.provider.example"], "port": 587, "tls": "required",
               "smarthost_authentication": "basic_require_tls", "username": "corp-relay", "password": "S3cret!"}
    ops, dummy, after, secrets = plan_for(options)
    assert ops[0]["credential"] == {"username": "corp-relay", "secret": "SmartHostPassword"}
    assert secrets == {"SmartHostPassword": "S3cret!"}
    assert "S3cret!" not in json.dumps(ops) and "S3cret!" not in json.dumps(after)
    # Created with that user: on_create sends nothing again; always sends the password, unverifiable.
    current = raw(dns_routing_enabled=False, smart_hosts=["smtp.provider.example"], port=587, require_tls=True,
                  smarthost_auth_mechanism="BasicAuthRequireTLS", username="corp-relay")
    assert plan_for(options, current)[0] == []
    ops, dummy, dummy, secrets = plan_for(dict(options, update_password="always"), current)
    assert [(op["op"], op["name"], op["verify"]) for op in ops] == [("set_send_connector", "password", False)]
    assert secrets == {"SmartHostPassword": "S3cret!"}
    # A new user name sends the credential and can be verified (the user name reads back).
    ops, dummy, dummy, dummy = plan_for(dict(options, username="other"), current)
    assert ops[0]["verify"] is True and ops[0]["credential"]["username"] == "other"


def test_switching_to_dns_clears_the_smart_hosts_in_the_same_call():
    current = raw(dns_routing_enabled=False, smart_hosts=["[192.0.2.25]"])
    ops, dummy, dummy, dummy = plan_for({"routing": "dns"}, current)
    assert ops[0]["parameters"] == {"Identity": "mailrelay outbound", "DNSRoutingEnabled": True, "SmartHosts": None}


def test_tls_modes_map_to_exchange_flags():
    ops = plan_for({"tls": "none"}, raw())[0]
    assert ops[0]["parameters"] == {"Identity": "mailrelay outbound", "IgnoreSTARTTLS": True}
    ops = plan_for({"tls": "required", "tls_auth_level": "domain_validation", "tls_domain": "provider.example"}, raw())[0]
    assert ops[0]["parameters"] == {"Identity": "mailrelay outbound", "RequireTLS": True, "TlsAuthLevel": "DomainValidation", "TlsDomain": "provider.example"}


def test_sizes_and_unlimited():
    assert plan_for({"max_message_size": "35MB"}, raw())[0] == []
    ops = plan_for({"max_message_size": "unlimited"}, raw())[0]
    assert ops[0]["parameters"]["MaxMessageSize"] == "Unlimited"
    assert plan_for({"max_message_size": "unlimited"}, raw(max_message_size="Unlimited"))[0] == []


@pytest.mark.parametrize(
    "options, message",
    [
        ({"address_spaces": []}, "address_spaces: at least one"),
        ({"routing": "smarthost"}, "smart_hosts: required when routing=smarthost"),
        ({"routing": "dns", "smart_hosts": ["a.example"]}, "smart_hosts: only used with routing=smarthost"),
        ({"smarthost_authentication": "basic"}, "smarthost_authentication: only used with routing=smarthost"),
        ({"smart_hosts": ["a.example"], "smarthost_authentication": "basic", "tls": "required"}, "username: required"),
        ({"smart_hosts": ["a.example"], "username": "u", "password": "p"}, "username/password: only used with"),
        ({"smart_hosts": ["a.example"], "smarthost_authentication": "basic", "username": "u", "password": "p"}, "tls: must be required"),
        ({"tls_auth_level": "certificate_validation"}, "tls_auth_level: only used with tls=required"),
        ({"tls": "required", "tls_domain": "x.example"}, "tls_domain: only used with"),
        ({"port": 0}, "port: 0 is out of range"),
        ({"source_transport_servers": []}, "source_transport_servers: at least one"),
        ({"name": "out*"}, "name:"),
    ],
)
def test_bad_input_names_the_option(options, message):
    with pytest.raises(ex.ExchangeInputError) as info:
        plan_for(options)
    assert message in str(info.value)


def test_password_needed_to_create_with_basic_auth():
    options = {"smart_hosts": ["a.example"], "smarthost_authentication": "basic", "tls": "required", "username": "u"}
    with pytest.raises(ex.ExchangeInputError, match="password: required"):
        plan_for(options)


def test_absent():
    ops = plan_for({"state": "absent"}, raw())[0]
    assert [(op["op"], op["parameters"]) for op in ops] == [("remove_send_connector", {"Identity": "mailrelay outbound"})]
    assert plan_for({"state": "absent"})[0] == []


def test_find_connector_is_exact():
    document = {"send_connectors": [raw(name="mailrelay outbound 2"), raw(name="Mailrelay Outbound")]}
    assert sc.find_connector(document, "mailrelay outbound")["name"] == "Mailrelay Outbound"
    assert sc.find_connector({"send_connectors": [raw(name="mailrelay outbound 2")]}, "mailrelay outbound") is None
