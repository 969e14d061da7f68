# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What each job means in Postfix terms: the restrictions that keep it closed."""

from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _postfix_jobs as jobs
from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology

HUB = [{"address": "10.0.0.2", "port": 25}, {"address": "10.0.0.3", "port": 2525}]


def settings_of(job, **changes):
    description = {
        "domains": ["example.org", "example.net"],
        "tls": {"cert_file": "/etc/ssl/m.pem", "key_file": "/etc/ssl/m.key"},
        "submission": {
            "servers": [{"host": "edge", "address": "192.0.2.10"}],
            "users": [
                {"login": "alice@example.org", "password": "x"},
                {"login": "frontdesk", "password": "y", "senders": ["info@example.org", "alice@example.org"]},
            ],
        },
        "inbound_relay": {"servers": [{"host": "edge", "address": "192.0.2.11"}]},
        "hub": {"servers": [{"host": "core", "address": "10.0.0.2"}, {"host": "core2", "address": "10.0.0.3", "port": 2525}],
                "mailboxes": ["alice@example.org"]},
    }
    host = "core" if job == "hub" else "edge"
    variables = _topology.host_jobs(_topology.normalize(description), host)[job]
    settings = {name[len(job) + 1:]: value for name, value in variables.items()}
    settings.update(changes)
    return settings


def maps_by_name(instance):
    return {item["name"]: item for item in instance["maps"]}


def test_next_hops_are_bracketed_so_no_mx_lookup_happens():
    assert jobs.next_hops(HUB) == "[10.0.0.2]:25, [10.0.0.3]:2525"
    assert jobs.next_hops([{"address": "2001:db8::2", "port": 25}]) == "[2001:db8::2]:25"


def test_submission_is_closed_to_everyone_but_authenticated_owners():
    instance = jobs.instance_for("submission", settings_of("submission"))
    main = instance["main_cf"]
    assert instance["name"] == "postfix-submission"
    assert main["relayhost"] == "[10.0.0.2]:25, [10.0.0.3]:2525"
    assert main["smtpd_relay_restrictions"] == "permit_sasl_authenticated, reject"
    assert main["smtpd_tls_security_level"] == "encrypt" and main["smtpd_tls_auth_only"] is True
    assert "reject_sender_login_mismatch" in main["smtpd_sender_restrictions"]
    assert main["mydestination"] == "" and main["mydomain"] == "submission.invalid"
    assert main["mynetworks"] == ""
    assert main["inet_interfaces"] == "192.0.2.10" and main["smtp_bind_address"] == "192.0.2.10"
    assert maps_by_name(instance)["sender_logins"]["entries"] == "alice@example.org alice@example.org,frontdesk\ninfo@example.org frontdesk\n"
    services = {(s["service"], s["type"]): s for s in instance["master_cf"]}
    assert services[("587", "inet")]["command"] == "smtpd"
    assert services[("smtp", "inet")]["state"] == "absent"


def test_inbound_relay_accepts_own_domains_only_and_forwards_them_to_the_hub():
    instance = jobs.instance_for("inbound_relay", settings_of("inbound_relay"))
    main = instance["main_cf"]
    maps = maps_by_name(instance)
    assert main["relay_domains"] == "hash:/etc/postfix-inbound-relay/relay_domains"
    assert maps["relay_domains"]["entries"] == "example.org OK\nexample.net OK\n"
    assert main["relay_transport"] == "relay:[10.0.0.2]:25, [10.0.0.3]:2525"
    assert main["smtpd_relay_restrictions"] == "reject_unauth_destination"
    assert "permit_mynetworks" not in main["smtpd_relay_restrictions"] and main["mynetworks"] == ""
    assert main["smtpd_sasl_auth_enable"] is False
    for trick_guard in ("allow_percent_hack", "swap_bangpath", "allow_untrusted_routing", "resolve_dequoted_address"):
        assert main[trick_guard] is False
    assert main["relay_recipient_maps"] == "" and maps["relay_recipients"] == {"name": "relay_recipients", "state": "absent"}


def test_inbound_relay_with_known_recipients_refuses_the_rest():
    instance = jobs.instance_for("inbound_relay", settings_of("inbound_relay", recipients=["bob@example.org", "alice@example.org"]))
    assert instance["main_cf"]["relay_recipient_maps"] == "hash:/etc/postfix-inbound-relay/relay_recipients"
    assert maps_by_name(instance)["relay_recipients"]["entries"] == "alice@example.org OK\nbob@example.org OK\n"


def test_hub_talks_to_relays_only_and_relays_outward_for_submission_only():
    instance = jobs.instance_for("hub", settings_of("hub"))
    main = instance["main_cf"]
    maps = maps_by_name(instance)
    assert main["mynetworks"] == "192.0.2.10/32"
    assert main["smtpd_relay_restrictions"] == "permit_mynetworks, reject_unauth_destination"
    assert main["smtpd_client_restrictions"] == "permit_mynetworks, check_client_access cidr:/etc/postfix-hub/inbound_relays, reject"
    assert maps["inbound_relays"]["entries"] == [["192.0.2.11/32", "OK"]]
    assert maps["mailboxes"]["entries"] == "alice@example.org example.org/alice/\n"
    assert main["relayhost"] == "" and maps["sasl_passwd"]["state"] == "absent"


def test_hub_smarthost_credentials_go_to_a_secret_map():
    smarthost = {"host": "relay.isp.example", "port": 587, "tls": "encrypt", "username": "acct", "password": "pw"}
    instance = jobs.instance_for("hub", settings_of("hub", outbound_method="smarthost", smarthost=smarthost))
    main = instance["main_cf"]
    sasl = maps_by_name(instance)["sasl_passwd"]
    assert main["relayhost"] == "[relay.isp.example]:587"
    assert main["smtp_tls_security_level"] == "encrypt" and main["smtp_sasl_auth_enable"] is True
    assert sasl["secret"] is True and sasl["entries"] == {"[relay.isp.example]:587": "acct:pw"}


def test_ipv6_addresses():
    instance = jobs.instance_for("inbound_relay", settings_of("inbound_relay", address="2001:db8::11"))
    assert instance["main_cf"]["inet_protocols"] == "ipv6"
    assert instance["main_cf"]["smtp_bind_address6"] == "2001:db8::11"
    hub = jobs.instance_for("hub", settings_of("hub", relay_clients=[{"address": "2001:db8::10"}]))
    assert hub["main_cf"]["mynetworks"] == "[2001:db8::10]/128"


def test_message_size_limit_only_when_asked():
    assert "message_size_limit" not in jobs.instance_for("hub", settings_of("hub"))["main_cf"]
    assert jobs.instance_for("hub", settings_of("hub", max_message_size=10485760))["main_cf"]["message_size_limit"] == 10485760


@pytest.mark.parametrize("job", ["submission", "inbound_relay", "hub"])
def test_every_job_listens_on_its_own_port_only(job):
    instance = jobs.instance_for(job, settings_of(job, port=2526))
    listeners = [s for s in instance["master_cf"] if s["type"] == "inet" and s.get("state", "present") == "present"]
    assert [(s["service"], s["chroot"]) for s in listeners] == [("2526", "n")]


def test_removed_smarthost_credentials_take_their_parameters_along():
    for smarthost, method in (({"host": "smtp.example.net", "port": 587, "tls": "may"}, "smarthost"), (None, "dns")):
        instance = jobs.hub(settings_of("hub", smarthost=smarthost, outbound_method=method))
        main = instance["main_cf"]
        assert main["smtp_sasl_password_maps"] is None and main["smtp_sasl_auth_enable"] is False
        assert {"name": "sasl_passwd", "state": "absent"} in instance["maps"]
        assert instance["master_cf_mode"] == "listeners"
