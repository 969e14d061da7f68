# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dns_records, _topology

TLS = {"cert_file": "/etc/ssl/mail.pem", "key_file": "/etc/ssl/private/mail.key"}
RSA_KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "x" * 348
ED_KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="


def description(**changes):
    base = {
        "domains": ["example.org", "example.net"],
        "tls": dict(TLS),
        "submission": {
            "servers": [{"host": "edge1", "address": "192.0.2.10", "hostname": "smtp.example.org"}],
            "users": [{"login": "alice@example.org", "password": "secret-1"}],
        },
        "inbound_relay": {
            "servers": [
                {"host": "edge1", "address": "192.0.2.11", "hostname": "mx1.example.org"},
                {"host": "edge2", "address": "2001:db8::25", "hostname": "mx2.example.org"},
            ]
        },
        "hub": {"servers": [{"host": "core", "address": "198.51.100.2", "hostname": "hub.example.org"}]},
        "outbound": {"method": "dns"},
    }
    base.update(changes)
    return base


def derive(desc, keys=None, published=None):
    return _dns_records.derive(_topology.normalize(desc), keys, published)


def select(records, rtype, name=None):
    return [record for record in records if record["type"] == rtype and (name is None or record["name"] == name)]


def problems_of(desc):
    with pytest.raises(_topology.TopologyError) as info:
        _topology.normalize(desc)
    return info.value.problems


def test_every_own_domain_gets_mx_records_for_every_inbound_relay():
    records = derive(description())["records"]
    for domain in ("example.org", "example.net"):
        assert sorted(record["value"] for record in select(records, "MX", domain)) == ["10 mx1.example.org.", "10 mx2.example.org."]


def test_greeting_names_get_a_and_aaaa_records_with_their_addresses():
    records = derive(description())["records"]
    assert [r["value"] for r in select(records, "A", "mx1.example.org")] == ["192.0.2.11"]
    assert [r["value"] for r in select(records, "AAAA", "mx2.example.org")] == ["2001:db8::25"]
    assert [r["value"] for r in select(records, "A", "smtp.example.org")] == ["192.0.2.10"]
    # The hub sends by DNS: its name must resolve, and its address must point back at it.
    assert [r["value"] for r in select(records, "A", "hub.example.org")] == ["198.51.100.2"]
    assert [r["value"] for r in select(records, "PTR", "2.100.51.198.in-addr.arpa")] == ["hub.example.org."]


def test_published_addresses_replace_the_listen_addresses_and_dns_addresses_win():
    desc = description(hub={"servers": [{"host": "core", "address": "10.0.0.2", "hostname": "hub.example.org"}]})
    desc["dns"] = {"addresses": {"mx1.example.org": ["203.0.113.25"]}}
    published = {"mx1.example.org": ["203.0.113.99"], "hub.example.org": ["203.0.113.2"], "mx2.example.org": ["2001:db8:1::25"]}
    result = derive(desc, published=published)
    records = result["records"]
    assert [r["value"] for r in select(records, "A", "mx1.example.org")] == ["203.0.113.25"]
    assert [r["value"] for r in select(records, "AAAA", "mx2.example.org")] == ["2001:db8:1::25"]
    assert [r["value"] for r in select(records, "A", "hub.example.org")] == ["203.0.113.2"]
    assert select(records, "TXT", "example.org")[0]["value"] == "v=spf1 ip4:203.0.113.2 ~all"
    assert not any("10.0.0.2" in record["value"] for record in records)


def test_private_listen_addresses_are_published_with_a_note():
    desc = description(hub={"servers": [{"host": "core", "address": "10.0.0.2", "hostname": "hub.example.org"}]})
    notes = derive(desc)["notes"]
    assert "hub.example.org: 10.0.0.2 is not a public address; set dns.addresses.hub.example.org to the address the Internet reaches" in notes


def test_spf_names_the_hubs_when_they_send_by_dns_including_ipv6():
    desc = description(hub={"servers": [
        {"host": "core", "address": "198.51.100.2", "hostname": "hub.example.org"},
        {"host": "core2", "address": "2001:db8::2", "hostname": "hub2.example.org"},
    ]})
    spf = select(derive(desc)["records"], "TXT", "example.net")[0]
    assert spf["value"] == "v=spf1 ip4:198.51.100.2 ip6:2001:db8::2 ~all"
    assert spf["domain"] == "example.net"


def test_spf_names_the_smart_host_not_the_hub_when_mail_leaves_through_it():
    by_address = description(outbound={"method": "smarthost", "smarthost": {"host": "192.0.2.200"}})
    assert select(derive(by_address)["records"], "TXT", "example.org")[0]["value"] == "v=spf1 ip4:192.0.2.200 ~all"
    by_name = description(outbound={"method": "smarthost", "smarthost": {"host": "relay.isp.example"}})
    assert select(derive(by_name)["records"], "TXT", "example.org")[0]["value"] == "v=spf1 a:relay.isp.example ~all"
    by_include = description(
        outbound={"method": "smarthost", "smarthost": {"host": "relay.isp.example"}},
        dns={"spf": {"include": ["spf.isp.example"], "all": "fail"}},
    )
    result = derive(by_include)
    assert select(result["records"], "TXT", "example.org")[0]["value"] == "v=spf1 include:spf.isp.example -all"
    assert any("spf.isp.example" in note for note in result["notes"])
    # A hub behind a smart host does not greet the Internet: no A or PTR for it.
    assert not select(result["records"], "A", "hub.example.org") and not select(result["records"], "PTR")


def test_spf_refuses_more_than_ten_lookups():
    includes = ["spf%d.example.com" % index for index in range(11)]
    assert problems_of(description(dns={"spf": {"include": includes}})) == [
        "dns.spf: the SPF record would need 11 DNS lookups; RFC 7208 allows 10 (fewer includes, or addresses instead)"
    ]
    # Ten lookups are allowed; addresses cost none.
    desc = description(dns={"spf": {"include": includes[:10], "addresses": ["192.0.2.%d" % n for n in range(40)]}})
    assert _dns_records.spf_mechanisms(_topology.normalize(desc))[1] == ["include:%s" % name for name in includes[:10]]


def test_long_spf_is_split_into_strings_of_at_most_255_characters_that_join_to_the_record():
    addresses = ["192.0.2.%d" % n for n in range(60)] + ["2001:db8::%x" % n for n in range(20)]
    record = select(derive(description(dns={"spf": {"addresses": addresses}}))["records"], "TXT", "example.org")[0]
    assert len(record["value"]) > 2 * 255
    assert len(record["strings"]) >= 3
    assert all(len(piece) <= 255 for piece in record["strings"])
    assert "".join(record["strings"]) == record["value"]
    assert record["value"].endswith(" ~all") and "ip4:192.0.2.59" in record["value"] and "ip6:2001:db8::13" in record["value"]


def test_split_txt_cuts_hard_when_there_is_no_space():
    text = "p=" + "A" * 600
    pieces = _dns_records.split_txt(text)
    assert [len(piece) for piece in pieces] == [255, 255, 92] and "".join(pieces) == text
    assert _dns_records.split_txt("short") == ["short"]
    assert _dns_records.split_txt("x" * 255) == ["x" * 255]


def test_dmarc_defaults_to_none_with_each_domains_postmaster_reporting():
    records = derive(description())["records"]
    assert select(records, "TXT", "_dmarc.example.org")[0]["value"] == "v=DMARC1; p=none; rua=mailto:postmaster@example.org"
    assert select(records, "TXT", "_dmarc.example.net")[0]["value"] == "v=DMARC1; p=none; rua=mailto:postmaster@example.net"


def test_dmarc_policy_from_the_description_and_external_report_authorisation():
    desc = description(dns={"dmarc": {"policy": "reject", "subdomain_policy": "quarantine", "pct": 50, "rua": "dmarc@example.org", "adkim": "s"}})
    records = derive(desc)["records"]
    assert select(records, "TXT", "_dmarc.example.net")[0]["value"] == (
        "v=DMARC1; p=reject; sp=quarantine; pct=50; rua=mailto:dmarc@example.org; adkim=s"
    )
    # example.org receives example.net's reports: it must say so (RFC 7489 7.1); not for itself.
    assert [r["value"] for r in select(records, "TXT", "example.net._report._dmarc.example.org")] == ["v=DMARC1"]
    assert not select(records, "TXT", "example.org._report._dmarc.example.org")


def test_mta_sts_policy_lists_the_mx_names_and_its_id_follows_the_text():
    result = derive(description(dns={"mta_sts": {"mode": "enforce", "max_age": 604800}}))
    policy = result["mta_sts_policies"]["example.org"]
    assert policy == "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.org\r\nmx: mx2.example.org\r\nmax_age: 604800\r\n"
    txt = select(result["records"], "TXT", "_mta-sts.example.org")[0]["value"]
    assert txt == "v=STSv1; id=%s" % _dns_records.mta_sts_id(policy)
    other = derive(description())["mta_sts_policies"]["example.org"]
    assert _dns_records.mta_sts_id(other) != _dns_records.mta_sts_id(policy)
    assert _dns_records.mta_sts_id(policy).isalnum() and len(_dns_records.mta_sts_id(policy)) <= 32


def test_tls_rpt_reports_to_postmaster_or_the_given_address():
    records = derive(description())["records"]
    assert select(records, "TXT", "_smtp._tls.example.org")[0]["value"] == "v=TLSRPTv1; rua=mailto:postmaster@example.org"
    records = derive(description(dns={"tls_rpt": {"rua": ["tls@example.org", "https://reports.example.com/tls"]}}))["records"]
    assert select(records, "TXT", "_smtp._tls.example.net")[0]["value"] == "v=TLSRPTv1; rua=mailto:tls@example.org,https://reports.example.com/tls"


def test_dkim_records_per_selector_algorithm_and_domain_from_the_hubs_keys():
    desc = description(dkim={"selectors": ["s2026a", "s2026b"], "active": "s2026b"})
    topology = _topology.normalize(desc)
    needed = _dns_records.dkim_keys_needed(topology)
    assert [(key["key_selector"], key["active"]) for key in needed] == [
        ("s2026a-hub", False), ("s2026a-hub-ed25519", False), ("s2026b-hub", True), ("s2026b-hub-ed25519", True),
    ]
    keys = [
        {"key_selector": "s2026a-hub", "algorithm": "rsa", "public_key": RSA_KEY},
        {"key_selector": "s2026b-hub", "algorithm": "rsa", "public_key": RSA_KEY},
        {"key_selector": "s2026b-hub-ed25519", "algorithm": "ed25519", "public_key": ED_KEY},
    ]
    result = _dns_records.derive(topology, keys)
    for domain in ("example.org", "example.net"):
        rsa = select(result["records"], "TXT", "s2026b-hub._domainkey.%s" % domain)[0]
        assert rsa["value"] == "v=DKIM1; k=rsa; p=" + RSA_KEY
        assert len(rsa["strings"]) == 2 and "".join(rsa["strings"]) == rsa["value"]
        assert select(result["records"], "TXT", "s2026b-hub-ed25519._domainkey.%s" % domain)[0]["value"] == "v=DKIM1; k=ed25519; p=" + ED_KEY
    # The key that is not there yet is named in a note, not invented.
    assert any(note.startswith("s2026a-hub-ed25519._domainkey.example.org: the ed25519 key") for note in result["notes"])


def test_dkim_settings_are_validated():
    assert problems_of(description(dkim={"selectors": ["a", "A b"], "active": "c", "algorithms": ["ed25519", "dsa"]})) == [
        "dkim.selectors[1]: 'A b' is not a selector: lower-case letters, digits and inner hyphens, at most 42",
        "dkim.active: 'c' is not one of dkim.selectors (publish a selector before signing with it)",
        "dkim.algorithms[1]: 'dsa' is not one of rsa, ed25519",
        "dkim.algorithms: must include rsa; ed25519 is signed in addition",
    ]
    topology = _topology.normalize(description(dkim={}))
    assert topology["dkim"]["selectors"] == ["mailrelay1"] and topology["dkim"]["active"] == "mailrelay1"
    assert _topology.normalize(description())["dkim"] is None


def test_dns_settings_are_validated_with_their_field_names():
    assert problems_of(description(dns={
        "ttl": 5,
        "colour": "blue",
        "addresses": {"nothere.example.org": ["192.0.2.1"], "mx1.example.org": ["not-an-ip"]},
        "spf": {"all": "maybe", "addresses": ["300.1.1.1"]},
        "dmarc": {"policy": "drop", "rua": "nobody"},
        "mta_sts": {"mode": "strict"},
    })) == [
        "dns.colour: unknown key; known keys are addresses, dmarc, mta_sts, mx_preference, spf, tls_rpt, ttl",
        "dns.ttl: must be a whole number from 60 to 604800",
        "dns.addresses.mx1.example.org[0]: 'not-an-ip' is not an IP address",
        "dns.addresses.nothere.example.org: is not the hostname of any server (known: hub.example.org, mx1.example.org, mx2.example.org, smtp.example.org)",
        "dns.spf.addresses[0]: '300.1.1.1' is not an IP address or network",
        "dns.spf.all: 'maybe' is not one of softfail, fail, neutral",
        "dns.dmarc.policy: 'drop' is not one of none, quarantine, reject",
        "dns.dmarc.rua: 'nobody' is neither a mail address nor a mailto:/https:// URI",
        "dns.mta_sts.mode: 'strict' is not one of testing, enforce, none",
    ]


def test_zone_text_has_absolute_names_and_quoted_strings():
    records = derive(description(dns={"ttl": 600}))["records"]
    zone = _dns_records.zone_text(records, ["header line"])
    lines = zone.splitlines()
    assert lines[0] == "; header line"
    assert "example.org.\t600\tIN\tMX\t10 mx1.example.org." in lines
    assert '_dmarc.example.org.\t600\tIN\tTXT\t"v=DMARC1; p=none; rua=mailto:postmaster@example.org"' in lines
    assert "mx2.example.org.\t600\tIN\tAAAA\t2001:db8::25" in lines
    assert _dns_records.zone_text([{"name": "x.example", "ttl": 1, "type": "TXT", "strings": ['a"b\\c'], "purpose": "p"}]).splitlines()[1] == (
        'x.example.\t1\tIN\tTXT\t"a\\"b\\\\c"'
    )


def published_description():
    """Servers in a DMZ and inside, published by a gateway (the publishing part of the description)."""
    return description(
        submission={"servers": [{"host": "sub", "address": "10.10.0.10", "hostname": "smtp.example.org"}],
                    "users": [{"login": "alice@example.org", "password": "secret-1"}]},
        inbound_relay={"servers": [{"host": "mx1", "address": "10.10.0.11", "hostname": "mx1.example.org"},
                                   {"host": "mx2", "address": "10.10.0.12", "hostname": "mx2.example.org"}]},
        hub={"servers": [{"host": "core", "address": "10.20.0.2", "hostname": "hub.example.org"}]},
        publishing={
            "gateways": [{"host": "gw", "outside_interface": "out0", "inside_interfaces": ["dmz0", "lan0"]}],
            "published": [{"job": "submission", "host": "sub", "outside_address": "203.0.113.87"},
                          {"job": "inbound_relay", "host": "mx1", "outside_address": "203.0.113.25"},
                          {"job": "inbound_relay", "host": "mx2", "outside_address": "203.0.113.26"}],
            "management": {"networks": ["10.99.0.0/24"]},
            "dns_servers": ["10.20.0.53"],
        })


def test_gateway_published_addresses_come_from_the_publishing_part():
    topology = _topology.normalize(published_description())
    assert _dns_records.gateway_published(topology) == {
        "smtp.example.org": ["203.0.113.87"], "mx1.example.org": ["203.0.113.25"], "mx2.example.org": ["203.0.113.26"]}
    records = _dns_records.derive(topology)["records"]
    # MX targets and the submission name point at the gateway's outside addresses, never at the DMZ
    assert [r["value"] for r in select(records, "A", "mx1.example.org")] == ["203.0.113.25"]
    assert [r["value"] for r in select(records, "A", "mx2.example.org")] == ["203.0.113.26"]
    assert [r["value"] for r in select(records, "A", "smtp.example.org")] == ["203.0.113.87"]
    assert not any(r["value"].startswith("10.10.") for r in records)
    # the hub is never published: it sends from its own address (no source NAT), which SPF names
    assert select(records, "TXT", "example.org")[0]["value"] == "v=spf1 ip4:10.20.0.2 ~all"
    # a name the published_addresses option gives wins over the gateway's; dns.addresses over both
    desc = published_description()
    desc["dns"] = {"addresses": {"mx2.example.org": ["198.51.100.26"]}}
    records = derive(desc, published={"mx1.example.org": ["198.51.100.25"]})["records"]
    assert [r["value"] for r in select(records, "A", "mx1.example.org")] == ["198.51.100.25"]
    assert [r["value"] for r in select(records, "A", "mx2.example.org")] == ["198.51.100.26"]
    assert [r["value"] for r in select(records, "A", "smtp.example.org")] == ["203.0.113.87"]
