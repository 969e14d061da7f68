# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Exchange translation of the hub job: every setting each Exchange module gets."""

from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_jobs, _exchange_receive, _exchange_send

PLATFORM = {
    "server": "EX01", "hub_inbound_connector": "mailrelay inbound", "hub_send_connector": "mailrelay outbound",
    "hub_send_address_spaces": ["*"], "hub_update_password": "on_create", "hub_transport_role": "FrontendTransport",
    "hub_auth_mechanisms": ["Tls"], "hub_allow_broad_relay": False, "hub_manage_transport_dns": True, "hub_default_domain": "",
}
HUB = {
    "instance": "mailrelay relay", "address": "10.0.0.2", "port": 25, "hostname": "hub.example.org",
    "domains": ["example.org", "example.net"], "relay_clients": [{"address": "192.0.2.10"}],
    "inbound_relays": [{"address": "192.0.2.11"}, {"address": "192.0.2.10"}], "mailboxes": [],
    "outbound_method": "dns", "smarthost": None, "dns_servers": ["192.0.2.53"], "tls_cert_file": None, "tls_key_file": None,
    "max_message_size": "36700160",
}


def test_the_hub_gets_every_setting():
    resources = _exchange_jobs.resources_for("hub", HUB, PLATFORM)
    assert resources["accepted_domains"] == {"domains": [{"domain": "example.org"}, {"domain": "example.net"}]}
    common = {"server": "EX01", "transport_role": "FrontendTransport", "bindings": ["10.0.0.2:25"], "permission_groups": ["AnonymousUsers"],
              "auth_mechanisms": ["Tls"], "exclusive": True, "fqdn": "hub.example.org", "max_message_size": "36700160", "state": "present"}
    assert resources["relay_connector"] == dict(common, name="mailrelay relay", remote_ip_ranges=["192.0.2.10"], anonymous_relay=True,
                                                allow_broad_relay=False)
    # 192.0.2.10 relays anyway: it is listed once, on the relay connector. The inbound relays' own
    # non-delivery notices must leave through the hub: relay right on their connector, their addresses only.
    assert resources["inbound_connector"] == dict(common, name="mailrelay inbound", remote_ip_ranges=["192.0.2.11"], anonymous_relay=True,
                                                  allow_broad_relay=False)
    assert resources["transport_dns"] == {"server": "EX01", "external_dns_servers": ["192.0.2.53"], "external_dns_adapter_enabled": False}
    assert resources["send_connector"] == {
        "name": "mailrelay outbound", "address_spaces": ["*"], "routing": "dns", "tls": "opportunistic", "smarthost_authentication": "none",
        "update_password": "on_create", "use_external_dns": True, "source_transport_servers": ["EX01"], "fqdn": "hub.example.org",
        "max_message_size": "36700160",
    }


def test_a_smart_host_with_credentials():
    hub = dict(HUB, outbound_method="smarthost", dns_servers=[],
               smarthost={"host": "smtp.provider.example", "port": 587, "tls": "encrypt", "username": "corp-relay", "password": "pw"})
    send = _exchange_jobs.resources_for("hub", hub, PLATFORM)["send_connector"]
    assert (send["routing"], send["smart_hosts"], send["port"], send["tls"]) == ("smarthost", ["smtp.provider.example"], 587, "required")
    assert (send["smarthost_authentication"], send["username"], send["password"]) == ("basic", "corp-relay", "pw")
    assert send["use_external_dns"] is False
    transport = _exchange_jobs.resources_for("hub", hub, PLATFORM)["transport_dns"]
    assert transport == {"server": "EX01", "external_dns_servers": [], "external_dns_adapter_enabled": True}


def test_no_clients_means_no_connectors_and_unmanaged_dns_is_left_alone():
    resources = _exchange_jobs.resources_for("hub", dict(HUB, relay_clients=[], inbound_relays=[]),
                                             dict(PLATFORM, hub_manage_transport_dns=False, hub_default_domain="example.org"))
    assert resources["relay_connector"]["state"] == "absent" and resources["inbound_connector"]["state"] == "absent"
    assert resources["transport_dns"] is None
    assert resources["accepted_domains"]["default_domain"] == "example.org"


def test_the_inbound_relays_notices_can_be_kept_from_leaving():
    """Issue 13, item 4: without the notices switch the inbound relays' connector has no relay right at all."""
    resources = _exchange_jobs.resources_for("hub", HUB, dict(PLATFORM, hub_inbound_relay_notices=False, hub_allow_broad_relay=True))
    inbound = resources["inbound_connector"]
    assert (inbound["anonymous_relay"], inbound["allow_broad_relay"]) == (False, False)
    assert resources["relay_connector"]["allow_broad_relay"] is True
    # The setting is on by default (a platform without it, as older role variables pass it).
    platform = dict(PLATFORM)
    assert _exchange_jobs.resources_for("hub", HUB, platform)["inbound_connector"]["anonymous_relay"] is True


def test_ipv6_binding_is_bracketed():
    resources = _exchange_jobs.resources_for("hub", dict(HUB, address="2001:db8::2"), PLATFORM)
    assert resources["relay_connector"]["bindings"] == ["[2001:db8::2]:25"]


def test_the_options_are_ones_the_modules_accept():
    """What the builder produces passes the modules' own validation (session options added as module_defaults would)."""
    session = {"session": "remote", "connection_uri": None, "session_authentication": "kerberos", "session_username": None, "session_password": None}
    resources = _exchange_jobs.resources_for("hub", HUB, PLATFORM)
    from ansible_collections.mailrelay.smtp.plugins.action.exchange_receive_connector import ARGUMENT_SPEC as RECEIVE_SPEC
    from ansible_collections.mailrelay.smtp.plugins.action.exchange_send_connector import ARGUMENT_SPEC as SEND_SPEC
    for options, spec, module in ((resources["relay_connector"], RECEIVE_SPEC, _exchange_receive),
                                  (resources["inbound_connector"], RECEIVE_SPEC, _exchange_receive),
                                  (resources["send_connector"], SEND_SPEC, _exchange_send)):
        params = {name: option.get("default") for name, option in spec.items()}
        params.update(session)
        params.update(options)
        module.build_desired(params)


@pytest.mark.parametrize("hub, platform, fragment", [
    (dict(HUB, outbound_method="smarthost", smarthost={}), PLATFORM, "hub_smarthost.host: required"),
    (dict(HUB, outbound_method="smarthost", smarthost={"host": "x", "tls": "sometimes"}), PLATFORM, "hub_smarthost.tls"),
    (dict(HUB, outbound_method="carrier-pigeon"), PLATFORM, "hub_outbound_method"),
    (HUB, dict(PLATFORM, server=""), "exchange_server"),
])
def test_hubs_exchange_cannot_serve_are_refused(hub, platform, fragment):
    with pytest.raises(_exchange_jobs.ExchangeJobError, match=fragment):
        _exchange_jobs.resources_for("hub", hub, platform)
