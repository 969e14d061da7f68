# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What each job means in Postfix terms: the restrictions that keep it closed."""

from __future__ import annotations

import base64
import hashlib

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
    # The hub's mailboxes are the valid recipients (a Postfix hub: known by default).
    assert main["relay_recipient_maps"] == "hash:/etc/postfix-inbound-relay/relay_recipients"
    assert maps["relay_recipients"]["entries"] == "alice@example.org OK\n"


def test_inbound_relay_without_recipient_validation_has_no_table():
    instance = jobs.instance_for("inbound_relay", settings_of("inbound_relay", recipients=[], recipient_validation="off"))
    assert instance["main_cf"]["relay_recipient_maps"] == ""
    assert maps_by_name(instance)["relay_recipients"] == {"name": "relay_recipients", "state": "absent"}
    # Used alone, the role validates only when given recipients.
    alone = jobs.instance_for("inbound_relay", settings_of("inbound_relay", recipients=[], recipient_validation=""))
    assert alone["main_cf"]["relay_recipient_maps"] == ""


def test_inbound_relay_can_verify_recipients_against_the_hub():
    main = jobs.instance_for("inbound_relay", settings_of("inbound_relay", recipients=[], recipient_validation="verify"))["main_cf"]
    assert main["smtpd_recipient_restrictions"].endswith("reject_unauth_destination, reject_unverified_recipient")
    assert main["relay_recipient_maps"] == "" and main["unverified_recipient_reject_code"] == 550
    # A hub that does not answer defers the client: nothing is accepted that could bounce.
    assert main["unverified_recipient_tempfail_action"] == "defer"
    assert "hub" not in main["unverified_recipient_reject_reason"]
    # Said after "undeliverable address:" (550) and after "unverified address:" (450): true for both.
    assert "unknown" not in main["unverified_recipient_reject_reason"]
    # A result cached while the hub was down is asked again soon after it is back, not after 3 hours.
    assert main["address_verify_negative_refresh_time"] == "10m"
    with pytest.raises(ValueError, match="recipient_validation"):
        jobs.instance_for("inbound_relay", settings_of("inbound_relay", recipient_validation="maybe"))


@pytest.mark.parametrize("job", ["submission", "inbound_relay", "hub"])
def test_no_job_delivers_locally_or_accepts_local_addresses(job):
    instance = jobs.instance_for(job, settings_of(job))
    main = instance["main_cf"]
    assert main["mydestination"] == ""
    # [own address] is always local to Postfix: an empty table refuses it at RCPT...
    assert main["local_recipient_maps"] == "hash:/etc/%s/local_recipients" % instance["name"]
    assert maps_by_name(instance)["local_recipients"] == {"name": "local_recipients", "type": "hash", "entries": ""}
    # ...and nothing that slips through is written to /var/mail.
    assert main["local_transport"].startswith("error:5.1.1 ")
    assert "reject_non_fqdn_recipient" in main["smtpd_recipient_restrictions"]


@pytest.mark.parametrize("job", ["inbound_relay", "hub"])
def test_subdomains_of_own_domains_only_when_asked(job):
    table = "relay_domains" if job == "inbound_relay" else "mailbox_domains"
    instance = jobs.instance_for(job, settings_of(job))
    assert "relay_domains" not in instance["main_cf"]["parent_domain_matches_subdomains"]
    assert maps_by_name(instance)[table]["entries"] == "example.org OK\nexample.net OK\n"
    wide = jobs.instance_for(job, settings_of(job, include_subdomains=True))
    assert maps_by_name(wide)[table]["entries"] == "example.org OK\nexample.net OK\n.example.org OK\n.example.net OK\n"


def test_inbound_relay_notices_leave_through_the_hub():
    main = jobs.instance_for("inbound_relay", settings_of("inbound_relay"))["main_cf"]
    assert main["relayhost"] == "[10.0.0.2]:25, [10.0.0.3]:2525"
    hub = jobs.instance_for("hub", settings_of("hub"))
    hub_main = hub["main_cf"]
    # The hub relays outward for an inbound relay only with the null sender (its notices).
    assert hub_main["inbound_relay_notices"] == "check_sender_access inline:{<>=OK}"
    assert maps_by_name(hub)["inbound_relay_notices"]["entries"] == [["192.0.2.11/32", "inbound_relay_notices"]]
    assert hub_main["smtpd_null_access_lookup_key"] == "<>"


def test_postscreen_in_front_of_the_inbound_relay():
    instance = jobs.instance_for("inbound_relay", settings_of("inbound_relay", postscreen={
        "enabled": True, "allowlist": ["198.51.100.7", "2001:db8::/48"], "greet_wait": 4,
        "dnsbl_sites": [{"site": "zen.example=127.0.0.[2..11]", "weight": 3}, {"site": "list.example", "weight": 1}],
    }))
    services = {(s["service"], s["type"]): s for s in instance["master_cf"]}
    assert services[("25", "inet")]["command"] == "postscreen" and services[("25", "inet")]["maxproc"] == "1"
    assert services[("smtpd", "pass")]["command"] == "smtpd"
    assert services[("dnsblog", "unix")]["command"] == "dnsblog"
    main = instance["main_cf"]
    assert main["postscreen_greet_wait"] == "4s" and main["postscreen_greet_action"] == "enforce"
    assert main["postscreen_pipelining_enable"] is True
    assert main["postscreen_dnsbl_sites"] == "zen.example=127.0.0.[2..11]*3, list.example"
    assert main["postscreen_access_list"] == "cidr:/etc/postfix-inbound-relay/postscreen_access"
    assert maps_by_name(instance)["postscreen_access"]["entries"] == [["198.51.100.7/32", "permit"], ["[2001:db8::]/48", "permit"]]
    off = jobs.instance_for("inbound_relay", settings_of("inbound_relay", postscreen={"enabled": False}))
    services = {(s["service"], s["type"]): s for s in off["master_cf"]}
    assert services[("25", "inet")]["command"] == "smtpd" and services[("smtpd", "pass")]["state"] == "absent"
    assert not any(name.startswith("postscreen_") for name in off["main_cf"])


def test_submission_offers_implicit_tls_with_the_same_rules():
    instance = jobs.instance_for("submission", settings_of("submission"))
    services = {(s["service"], s["type"]): s for s in instance["master_cf"]}
    assert services[("465", "inet")]["options"]["smtpd_tls_wrappermode"] is True
    assert services[("465", "inet")]["options"]["cleanup_service_name"] == services[("587", "inet")]["options"]["cleanup_service_name"]
    assert "smtpd_tls_wrappermode" not in services[("587", "inet")]["options"]
    none = jobs.instance_for("submission", settings_of("submission", implicit_tls_port=0))
    assert [s["service"] for s in none["master_cf"] if s["type"] == "inet" and s.get("state") != "absent"] == ["587"]


def test_submission_limits_tls_policy_and_received_header():
    main = jobs.instance_for("submission", settings_of("submission"))["main_cf"]
    assert main["smtpd_client_auth_rate_limit"] == 10 and main["anvil_rate_time_unit"] == "60s"
    assert main["smtpd_client_event_limit_exceptions"] == ""
    assert main["smtpd_tls_mandatory_protocols"] == main["smtpd_tls_protocols"] == ">=TLSv1.2"
    assert main["tls_medium_cipherlist"].startswith("ECDHE-ECDSA-AES128-GCM-SHA256:")
    changed = jobs.instance_for("submission", settings_of("submission", auth_rate_limit=3, recipient_limit=20))["main_cf"]
    assert changed["smtpd_client_auth_rate_limit"] == 3 and changed["smtpd_recipient_limit"] == 20
    instance = jobs.instance_for("submission", settings_of("submission"))
    cleanup = {(s["service"], s["type"]): s for s in instance["master_cf"]}[("submission-cleanup", "unix")]
    assert cleanup["command"] == "cleanup"
    assert cleanup["options"]["header_checks"] == "regexp:/etc/postfix-submission/received_header_checks"
    [(pattern, action)] = maps_by_name(instance)["received_header_checks"]["entries"]
    assert action == "REPLACE Received: $1" and "E?SMTPS?A" in pattern
    shown = jobs.instance_for("submission", settings_of("submission", hide_client_in_received=False))
    assert {(s["service"], s["type"]): s for s in shown["master_cf"]}[("submission-cleanup", "unix")] == {
        "service": "submission-cleanup", "type": "unix", "state": "absent"}


def test_inbound_relay_with_known_recipients_refuses_the_rest():
    instance = jobs.instance_for("inbound_relay", settings_of("inbound_relay", recipients=["bob@example.org", "alice@example.org"]))
    assert instance["main_cf"]["relay_recipient_maps"] == "hash:/etc/postfix-inbound-relay/relay_recipients"
    assert maps_by_name(instance)["relay_recipients"]["entries"] == "alice@example.org OK\nbob@example.org OK\n"


def test_hub_talks_to_relays_only_and_relays_outward_for_submission_only():
    instance = jobs.instance_for("hub", settings_of("hub"))
    main = instance["main_cf"]
    maps = maps_by_name(instance)
    assert main["mynetworks"] == "192.0.2.10/32"
    assert main["smtpd_relay_restrictions"] == (
        "permit_mynetworks, check_client_access cidr:/etc/postfix-hub/inbound_relay_notices, reject_unauth_destination")
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
    expected = [("2526", "n"), ("465", "n")] if job == "submission" else [("2526", "n")]
    assert [(s["service"], s["chroot"]) for s in listeners] == expected


def test_removed_smarthost_credentials_take_their_parameters_along():
    for smarthost, method in (({"host": "smtp.example.net", "port": 587, "tls": "may"}, "smarthost"), (None, "dns")):
        instance = jobs.hub(settings_of("hub", smarthost=smarthost, outbound_method=method))
        main = instance["main_cf"]
        assert main["smtp_sasl_password_maps"] is None and main["smtp_sasl_auth_enable"] is False
        assert {"name": "sasl_passwd", "state": "absent"} in instance["maps"]
        assert instance["master_cf_mode"] == "listeners"


def test_certificate_fingerprint_is_sha256_of_the_der_in_postfix_form():
    der = b"\x30\x03\x02\x01\x05"  # any bytes: the digest is over what the PEM body decodes to
    pem = "junk before\n-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % base64.b64encode(der).decode()
    expected = hashlib.sha256(der).hexdigest().upper()
    fingerprint = jobs.certificate_fingerprint(pem)
    assert fingerprint.replace(":", "") == expected and len(fingerprint.split(":")) == 32
    with pytest.raises(ValueError, match="no PEM certificate"):
        jobs.certificate_fingerprint("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_hub_relays_outward_for_the_submission_certificate_not_the_address():
    fingerprint = ":".join(["AB"] * 32)
    hub = jobs.instance_for("hub", settings_of("hub", tls_cert_file="/etc/ssl/m.pem", tls_key_file="/etc/ssl/m.key",
                                               relay_client_fingerprints=[fingerprint.lower()]))
    main = hub["main_cf"]
    assert main["smtpd_relay_restrictions"].startswith("permit_tls_clientcerts, ")
    assert "permit_mynetworks" not in main["smtpd_relay_restrictions"] + main["smtpd_recipient_restrictions"]
    # The submission servers still connect by address (and deliver to the own domains without a certificate).
    assert main["smtpd_client_restrictions"].startswith("permit_mynetworks, ")
    assert main["smtpd_tls_ask_ccert"] is True and main["smtpd_tls_fingerprint_digest"] == "sha256"
    assert maps_by_name(hub)["relay_clientcerts"]["entries"] == "%s submission\n" % fingerprint
    by_address = jobs.instance_for("hub", settings_of("hub"))
    assert by_address["main_cf"]["smtpd_relay_restrictions"].startswith("permit_mynetworks, ")
    assert maps_by_name(by_address)["relay_clientcerts"] == {"name": "relay_clientcerts", "state": "absent"}
    with pytest.raises(ValueError, match="TLS material"):
        jobs.instance_for("hub", settings_of("hub", tls_cert_file=None, relay_client_fingerprints=[fingerprint]))


def test_submission_presents_its_certificate_to_the_hub():
    main = jobs.instance_for("submission", settings_of("submission"))["main_cf"]
    assert main["smtp_tls_security_level"] == "encrypt"
    assert main["smtp_tls_cert_file"] == "/etc/ssl/m.pem" and main["smtp_tls_key_file"] == "/etc/ssl/m.key"
    plain = jobs.instance_for("submission", settings_of("submission", client_certificate=False))["main_cf"]
    assert plain["smtp_tls_security_level"] == "may" and "smtp_tls_cert_file" not in plain


def test_hub_resolves_through_the_outbound_dns_servers_in_its_own_chroot():
    instance = jobs.instance_for("hub", settings_of("hub", dns_servers=["198.51.100.53", "2001:db8::53"]))
    assert instance["dns_servers"] == ["198.51.100.53", "2001:db8::53"]
    # Only a chrooted smtp(8) client reads $queue_directory/etc/resolv.conf.
    clients = [s for s in instance["master_cf"] if (s["service"], s["type"]) == ("smtp", "unix")]
    assert clients == [{"service": "smtp", "type": "unix", "private": "-", "unpriv": "-", "chroot": "y", "command": "smtp"}]
    # Without them the host's resolvers serve again: [] puts the host's copy back.
    plain = jobs.instance_for("hub", settings_of("hub"))
    assert plain["dns_servers"] == []
    assert not [s for s in plain["master_cf"] if (s["service"], s["type"]) == ("smtp", "unix")]


@pytest.mark.parametrize("job", ["submission", "inbound_relay"])
def test_a_published_job_knows_its_outside_addresses_as_its_own(job):
    published = jobs.instance_for(job, settings_of(job, proxy_interfaces=["198.18.10.87", "2001:db8::87"]))
    assert published["main_cf"]["proxy_interfaces"] == "198.18.10.87, 2001:db8::87"
    # unpublished (or no longer): the parameter goes
    assert jobs.instance_for(job, settings_of(job))["main_cf"]["proxy_interfaces"] is None
