# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _nftables, _publishing, _topology

TLS = {"cert_file": "/etc/ssl/mail.pem", "key_file": "/etc/ssl/private/mail.key"}


def description(**publishing_changes):
    publishing = {
        "gateways": [{"host": "gw", "outside_interface": "out0", "inside_interfaces": ["dmz0", "lan0"]}],
        "published": [
            {"job": "submission", "host": "sub", "outside_address": "198.51.100.10"},
            {"job": "inbound_relay", "host": "mx1", "outside_address": "198.51.100.11"},
            {"job": "inbound_relay", "host": "mx2", "outside_address": "198.51.100.12"},
        ],
        "management": {"networks": ["10.99.0.0/24"]},
        "dns_servers": ["10.20.0.53"],
    }
    publishing.update(publishing_changes)
    return {
        "domains": ["example.org"],
        "tls": dict(TLS),
        "submission": {
            "servers": [{"host": "sub", "address": "10.10.0.10"}],
            "users": [{"login": "alice@example.org", "password": "secret-1"}],
        },
        "inbound_relay": {"servers": [{"host": "mx1", "address": "10.10.0.11"}, {"host": "mx2", "address": "10.10.0.12", "port": 2525}]},
        "hub": {"servers": [{"host": "hub", "address": "10.20.0.2"}], "mailboxes": ["alice@example.org"]},
        "outbound": {"method": "dns"},
        "publishing": publishing,
    }


def problems_of(desc, inventory=None):
    with pytest.raises(_topology.TopologyError) as info:
        _topology.normalize(desc, inventory)
    return info.value.problems


def rules_of(chains, name):
    return [_nftables.render_rule(rule) for rule in next(chain for chain in chains if chain["name"] == name)["rules"]]


def test_submission_without_implicit_tls_is_published_on_587_only():
    desc = description()
    desc["submission"]["implicit_tls_port"] = False
    prerouting = rules_of(_publishing.gateway_rules(_topology.normalize(desc), "gw"), "prerouting")
    assert [rule for rule in prerouting if "publish submission" in rule] == [
        'iifname "out0" ip daddr 198.51.100.10 tcp dport 587 dnat ip to 10.10.0.10:587 comment "publish submission sub"']


def test_a_description_without_publishing_has_none():
    desc = description()
    del desc["publishing"]
    topology = _topology.normalize(desc)
    assert topology["publishing"] is None
    assert _publishing.host_chains(topology, "gw") is None
    assert _publishing.firewalled_hosts(topology) == []


def test_each_published_server_gets_its_outside_address_and_the_job_port():
    topology = _topology.normalize(description())
    chains = _publishing.gateway_rules(topology, "gw")
    assert rules_of(chains, "prerouting") == [
        'iifname "out0" ip daddr 198.51.100.10 tcp dport 587 dnat ip to 10.10.0.10:587 comment "publish submission sub"',
        # Submission with implicit TLS (on by default for Postfix) is published on 465 too.
        'iifname "out0" ip daddr 198.51.100.10 tcp dport 465 dnat ip to 10.10.0.10:465 comment "publish submission sub"',
        'iifname "out0" ip daddr 198.51.100.11 tcp dport 25 dnat ip to 10.10.0.11:25 comment "publish inbound_relay mx1"',
        # The outside port is the job's; the inside port is the server's own.
        'iifname "out0" ip daddr 198.51.100.12 tcp dport 25 dnat ip to 10.10.0.12:2525 comment "publish inbound_relay mx2"',
    ]


def test_the_gateway_forwards_only_what_the_jobs_need_and_never_rewrites_the_source():
    topology = _topology.normalize(description())
    chains = _publishing.gateway_rules(topology, "gw")
    assert [chain["name"] for chain in chains] == ["prerouting", "forward", "input"]
    forward = next(chain for chain in chains if chain["name"] == "forward")
    assert forward["policy"] == "drop"
    assert rules_of(chains, "forward") == [
        'ct state established,related accept comment "replies"',
        'iifname "out0" ip daddr 10.10.0.10 tcp dport 587 ct status dnat accept comment "publish submission sub"',
        'iifname "out0" ip daddr 10.10.0.10 tcp dport 465 ct status dnat accept comment "publish submission sub"',
        'iifname "out0" ip daddr 10.10.0.11 tcp dport 25 ct status dnat accept comment "publish inbound_relay mx1"',
        'iifname "out0" ip daddr 10.10.0.12 tcp dport 2525 ct status dnat accept comment "publish inbound_relay mx2"',
        'iifname != "out0" ip saddr { 10.10.0.10, 10.10.0.11, 10.10.0.12 } ip daddr 10.20.0.2 tcp dport 25 accept comment "relays to hub hub"',
        'oifname "out0" ip saddr 10.20.0.2 tcp dport 25 accept comment "hub sends by DNS"',
        'oifname "out0" ip saddr 10.20.0.53 meta l4proto { tcp, udp } th dport 53 accept comment "DNS servers query the outside"',
        'ip saddr 10.99.0.0/24 tcp dport 22 accept comment "management"',
    ]
    everything = "\n".join(rule for chain in chains for rule in rules_of(chains, chain["name"]))
    assert "snat" not in everything and "masquerade" not in everything
    assert all(chain["hook"] != "postrouting" for chain in chains)
    assert rules_of(chains, "input")[-1] == 'iifname "out0" drop comment "nothing else from the outside"'


def test_a_smart_host_is_the_only_outbound_smtp_destination():
    desc = description()
    desc["outbound"] = {"method": "smarthost", "smarthost": {"host": "203.0.113.5", "port": 587, "tls": "encrypt"}}
    chains = _publishing.gateway_rules(_topology.normalize(desc), "gw")
    assert 'oifname "out0" ip saddr 10.20.0.2 ip daddr 203.0.113.5 tcp dport 587 accept comment "hub to smart host"' in rules_of(chains, "forward")
    assert not any("hub sends by DNS" in rule for rule in rules_of(chains, "forward"))


def test_the_hub_may_ask_its_outside_dns_servers_itself():
    desc = description(dns_servers=[])
    desc["outbound"] = {"method": "dns", "dns_servers": ["203.0.113.53"]}
    chains = _publishing.gateway_rules(_topology.normalize(desc), "gw")
    assert ('oifname "out0" ip saddr 10.20.0.2 ip daddr 203.0.113.53 meta l4proto { tcp, udp } th dport 53 accept '
            'comment "hub asks its outside DNS servers"') in rules_of(chains, "forward")
    assert not any("DNS servers query" in rule for rule in rules_of(chains, "forward"))


def test_host_input_filters_admit_the_job_port_and_the_hub_only_from_the_relays():
    topology = _topology.normalize(description())
    assert _publishing.firewalled_hosts(topology) == ["gw", "hub", "mx1", "mx2", "sub"]
    hub = _publishing.host_chains(topology, "hub")
    assert hub[0]["policy"] == "drop"
    assert rules_of(hub, "input") == [
        'iif "lo" accept comment "loopback"',
        'ct state established,related accept comment "replies"',
        'meta l4proto { icmp, ipv6-icmp } accept comment "icmp"',
        'ip saddr { 10.10.0.10, 10.10.0.11, 10.10.0.12 } ip daddr 10.20.0.2 tcp dport 25 accept comment "hub postfix-hub"',
        'ip saddr 10.99.0.0/24 tcp dport 22 accept comment "management"',
    ]
    assert 'ip daddr 10.10.0.12 tcp dport 2525 accept comment "inbound_relay postfix-inbound-relay"' in rules_of(
        _publishing.host_chains(topology, "mx2"), "input")


def test_windows_servers_get_no_nftables_but_winrm_stays_reachable():
    desc = description()
    desc["hub"]["servers"][0]["platform"] = "exchange"
    # An Exchange hub's recipients are unknown to the relay: the description says how to treat them.
    desc["inbound_relay"]["recipient_validation"] = "off"
    topology = _topology.normalize(desc)
    assert _publishing.host_chains(topology, "hub") is None
    assert topology["publishing"]["management"]["ports"] == [22, 5985, 5986]


def test_ipv6_sources_and_destinations_never_share_a_rule():
    desc = description(management={"networks": ["10.99.0.0/24", "fd99::/64"]})
    chains = _publishing.gateway_rules(_topology.normalize(desc), "gw")
    assert 'ip6 saddr fd99::/64 tcp dport 22 accept comment "management"' in rules_of(chains, "forward")
    assert 'ip saddr 10.99.0.0/24 tcp dport 22 accept comment "management"' in rules_of(chains, "forward")


@pytest.mark.parametrize("change, field", [
    (lambda d: d["publishing"]["published"].append({"job": "submission", "host": "mx1", "outside_address": "198.51.100.20"}),
     "publishing.published[3].host: 'mx1' serves no submission job"),
    (lambda d: d["publishing"]["published"].append({"job": "webmail", "host": "sub", "outside_address": "198.51.100.20"}),
     "publishing.published[3].job: 'webmail' is not a publishable job"),
    (lambda d: d["publishing"]["published"][2].update(outside_address="198.51.100.11"),
     "publishing.published[2].outside_address: 198.51.100.11 port 25 is already published by publishing.published[1]"),
    (lambda d: d["publishing"]["published"].append({"job": "hub", "host": "hub", "outside_address": "198.51.100.20"}),
     "publishing.published[3].job: the hub is never published"),
    (lambda d: d["publishing"].update(rules=[{"name": "web", "direction": "inbound", "destination": "10.20.0.0/24", "port": 443}]),
     "publishing.rules[0].destination: would expose the hub (10.20.0.2, hub.servers[0])"),
    (lambda d: d["publishing"].update(rules=[{"name": "any", "direction": "inbound", "port": 443}]),
     "publishing.rules[0].destination: would expose the hub"),
    (lambda d: d["publishing"].pop("management"), "publishing.management.networks: required"),
    (lambda d: d["publishing"].update(management={"networks": ["not-a-net"]}), "publishing.management.networks[0]: 'not-a-net'"),
    (lambda d: d["publishing"]["published"].pop(), "publishing.published: inbound_relay.servers[1] (inbound_relay on mx2) has no outside address"),
    (lambda d: d["publishing"]["published"][0].update(outside_address="2001:db8::1"), "publishing.published[0].outside_address: 2001:db8::1 and the server's"),
    (lambda d: d["publishing"].update(gateways=[]), "publishing.gateways: required"),
    (lambda d: d["publishing"]["gateways"][0].update(host="hub"), "publishing.gateways[0].host: hub also serves hub.servers[0]"),
    (lambda d: d["publishing"]["gateways"][0].update(inside_interfaces=["out0"]), "publishing.gateways[0].inside_interfaces[0]: out0 is the outside leg"),
    (lambda d: d["publishing"]["gateways"][0].update(outside_interface="bad name!"), "publishing.gateways[0].outside_interface: required"),
    (lambda d: d["publishing"].update(dns_servers=[]), "publishing.dns_servers: required: the hub sends by DNS"),
    (lambda d: d["publishing"].update(firewall=True), "publishing.firewall: unknown key"),
    (lambda d: d["publishing"].update(rules=[{"name": "x", "direction": "sideways", "protocol": "icmp", "port": 0, "destination": "10.1.0.0/24"}]),
     "publishing.rules[0].direction: 'sideways'"),
])
def test_bad_publishing_is_refused_with_the_field_named(change, field):
    desc = description()
    change(desc)
    problems = problems_of(desc)
    assert any(problem.startswith(field) for problem in problems), problems


def test_every_bad_extra_rule_field_is_reported():
    desc = description(rules=[{"name": "x", "direction": "sideways", "protocol": "icmp", "port": 0, "destination": "10.1.0.0/24"}])
    fields = {problem.split(":")[0] for problem in problems_of(desc)}
    assert {"publishing.rules[0].direction", "publishing.rules[0].protocol", "publishing.rules[0].port[0]"} <= fields


def test_a_gateway_must_be_an_inventory_host():
    assert "publishing.gateways[0].host: 'gw' is not in the inventory" in problems_of(description(), ["sub", "mx1", "mx2", "hub"])


def test_a_loopback_server_cannot_be_published():
    desc = description()
    desc["submission"]["servers"][0]["address"] = "127.0.0.10"
    desc["hub"]["servers"][0]["host"] = "sub"
    desc["hub"]["servers"][0]["address"] = "127.0.0.2"
    desc["inbound_relay"]["servers"] = [{"host": "sub", "address": "127.0.0.11"}]
    desc["publishing"]["published"] = [{"job": "submission", "host": "sub", "outside_address": "198.51.100.10"}]
    assert any(problem.startswith("publishing.published[0].host: submission.servers[0] listens on the loopback")
               for problem in problems_of(desc))


def test_an_outbound_extra_rule_is_rendered_on_the_outside_leg():
    desc = description(rules=[{"name": "ntp", "direction": "outbound", "source": "10.20.0.123", "protocol": "udp", "port": 123}])
    chains = _publishing.gateway_rules(_topology.normalize(desc), "gw")
    assert 'oifname "out0" ip saddr 10.20.0.123 udp dport 123 accept comment "ntp"' in rules_of(chains, "forward")


def test_published_servers_know_their_outside_addresses_as_their_own():
    jobs = _topology.jobs_by_host(_topology.normalize(description()))
    assert jobs["sub"]["submission"]["submission_proxy_interfaces"] == ["198.51.100.10"]
    assert jobs["mx2"]["inbound_relay"]["inbound_relay_proxy_interfaces"] == ["198.51.100.12"]
    assert "hub_proxy_interfaces" not in jobs["hub"]["hub"]
    unpublished = description()
    del unpublished["publishing"]
    assert _topology.jobs_by_host(_topology.normalize(unpublished))["sub"]["submission"]["submission_proxy_interfaces"] == []
