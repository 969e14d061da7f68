# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import copy

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology

TLS = {"cert_file": "/etc/ssl/mail.pem", "key_file": "/etc/ssl/private/mail.key"}


def description(**changes):
    base = {
        "domains": ["example.org", "Example.NET"],
        "tls": dict(TLS),
        "submission": {
            "servers": [{"host": "edge", "address": "192.0.2.10"}],
            "users": [{"login": "alice@example.org", "password": "secret-1"}],
        },
        "inbound_relay": {"servers": [{"host": "edge", "address": "192.0.2.11"}]},
        "hub": {"servers": [{"host": "core", "address": "10.0.0.2"}], "mailboxes": ["alice@example.org"]},
        "outbound": {"method": "dns"},
    }
    base.update(changes)
    return base


def problems_of(desc, inventory=None):
    with pytest.raises(_topology.TopologyError) as info:
        _topology.normalize(desc, inventory)
    return info.value.problems


def test_wiring_is_derived_from_the_addresses():
    topology = _topology.normalize(description())
    edge = _topology.host_jobs(topology, "edge")
    core = _topology.host_jobs(topology, "core")
    assert sorted(edge) == ["inbound_relay", "submission"]
    assert edge["submission"]["submission_next_hops"] == [{"address": "10.0.0.2", "port": 25}]
    assert edge["inbound_relay"]["inbound_relay_next_hops"] == [{"address": "10.0.0.2", "port": 25}]
    assert edge["inbound_relay"]["inbound_relay_domains"] == ["example.org", "example.net"]
    assert core["hub"]["hub_relay_clients"] == [{"address": "192.0.2.10"}]
    assert core["hub"]["hub_inbound_relays"] == [{"address": "192.0.2.11"}]
    assert edge["submission"]["submission_port"] == 587 and core["hub"]["hub_port"] == 25
    assert edge["submission"]["submission_instance"] == "postfix-submission"
    assert edge["submission"]["submission_placeholder_domain"] == "submission.invalid"
    assert edge["submission"]["submission_tls_cert_file"] == TLS["cert_file"]
    # A login that is an address may send as itself by default.
    assert edge["submission"]["submission_users"][0]["senders"] == ["alice@example.org"]


def test_every_server_of_a_job_is_wired():
    desc = description()
    desc["submission"]["servers"].append({"host": "edge2", "address": "192.0.2.20"})
    desc["inbound_relay"]["servers"].append({"host": "edge2", "address": "192.0.2.21", "port": 2525})
    desc["hub"]["servers"].append({"host": "core2", "address": "10.0.0.3", "port": 26})
    topology = _topology.normalize(desc)
    hub = _topology.host_jobs(topology, "core2")["hub"]
    assert hub["hub_relay_clients"] == [{"address": "192.0.2.10"}, {"address": "192.0.2.20"}]
    assert hub["hub_inbound_relays"] == [{"address": "192.0.2.11"}, {"address": "192.0.2.21"}]
    relay = _topology.host_jobs(topology, "edge2")["inbound_relay"]
    assert relay["inbound_relay_next_hops"] == [{"address": "10.0.0.2", "port": 25}, {"address": "10.0.0.3", "port": 26}]
    assert relay["inbound_relay_port"] == 2525


def test_several_jobs_share_a_host_on_loopback():
    desc = description()
    for job, last in (("submission", 11), ("inbound_relay", 12), ("hub", 13)):
        desc[job]["servers"] = [{"host": "lab", "address": "127.0.1.%d" % last, "instance": "postfix-lab-" + job.replace("_", "-")}]
    jobs = _topology.host_jobs(_topology.normalize(desc, {"lab"}), "lab")
    assert sorted(jobs) == ["hub", "inbound_relay", "submission"]
    assert jobs["hub"]["hub_instance"] == "postfix-lab-hub"


def test_unknown_job_is_named():
    assert problems_of(description(smtp_relay={"servers": []})) == [
        "smtp_relay: unknown job; known jobs are submission, inbound_relay, hub"
        " (other keys: domains, tls, outbound, include_subdomains, audit, dns, dkim, publishing)"
    ]


@pytest.mark.parametrize("domain", ["exa mple.org", "example", "-bad.example.org", "example.org.", "a..b", 42, "1.2.3.4"])
def test_a_domain_that_is_not_a_domain(domain):
    problems = problems_of(description(domains=["example.org", domain]))
    assert problems == ["domains[1]: %r is not a domain name" % (domain,)]


def test_a_listen_address_used_by_two_jobs():
    desc = description()
    desc["inbound_relay"]["servers"][0]["address"] = "192.0.2.10"
    assert problems_of(desc) == ["inbound_relay.servers[0].address: 192.0.2.10 is already the listen address of submission.servers[0]"]


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "all", "224.0.0.1", "192.0.2.300"])
def test_never_all_addresses(address):
    desc = description()
    desc["inbound_relay"]["servers"][0]["address"] = address
    problems = problems_of(desc)
    assert len(problems) == 1 and problems[0].startswith("inbound_relay.servers[0].address: ")


def test_submission_without_tls_material_or_users():
    desc = description(tls=None)
    desc["submission"]["users"] = []
    problems = problems_of(desc)
    assert "submission.tls: required: submission accepts passwords only over TLS (cert_file, key_file)" in problems
    assert "submission.users: required: at least one user who may authenticate" in problems


def test_iis_submission_takes_its_certificate_from_the_windows_store():
    desc = description(tls=None)
    desc["submission"]["servers"][0]["platform"] = "iis"
    jobs = _topology.host_jobs(_topology.normalize(desc), "edge")
    assert jobs["submission"]["submission_platform"] == "iis"
    assert jobs["submission"]["submission_instance"] == "mailrelay submission"
    assert jobs["submission"]["submission_tls_cert_file"] is None


def test_a_hub_address_no_relay_can_reach():
    desc = description()
    desc["hub"]["servers"][0]["address"] = "127.0.0.1"
    problems = problems_of(desc)
    assert problems == [
        "hub.servers[0].address: 127.0.0.1 is a loopback address of core, which submission.servers[0] on edge cannot reach",
        "hub.servers[0].address: 127.0.0.1 is a loopback address of core, which inbound_relay.servers[0] on edge cannot reach",
    ]


def test_relays_need_a_hub():
    desc = description()
    del desc["hub"]
    assert problems_of(desc) == ["hub: required: submission and inbound_relay hand their mail to the hub"]


def test_platform_must_fit_the_job():
    desc = description()
    desc["hub"]["servers"][0]["platform"] = "iis"
    assert problems_of(desc) == ["hub.servers[0].platform: 'iis' cannot serve hub; choose one of postfix, exchange"]


def test_hosts_are_checked_against_the_inventory():
    assert problems_of(description(), {"edge"}) == ["hub.servers[0].host: 'core' is not in the inventory"]


def test_a_host_serves_a_job_once():
    desc = description()
    desc["inbound_relay"]["servers"].append({"host": "edge", "address": "192.0.2.12"})
    assert problems_of(desc) == ["inbound_relay.servers[1].host: edge already serves inbound_relay (inbound_relay.servers[0])"]


def test_senders_stay_within_own_domains():
    desc = description()
    desc["submission"]["users"] = [
        {"login": "bob", "password": "x"},
        {"login": "carol", "password": "y", "senders": ["carol@elsewhere.example"]},
    ]
    assert problems_of(desc) == [
        "submission.users[0].senders: required when the login is not a mail address",
        "submission.users[1].senders[0]: carol@elsewhere.example is not in one of the own domains",
    ]


def test_smarthost_rules():
    desc = description(outbound={"method": "smarthost", "smarthost": {"host": "relay.isp.example", "username": "u", "password": "p"}})
    assert problems_of(desc) == ["outbound.smarthost.tls: must be encrypt when a password is sent to the smart host"]
    desc["outbound"]["smarthost"]["tls"] = "encrypt"
    hub = _topology.host_jobs(_topology.normalize(desc), "core")["hub"]
    assert hub["hub_outbound_method"] == "smarthost"
    assert hub["hub_smarthost"] == {"host": "relay.isp.example", "port": 25, "tls": "encrypt", "username": "u", "password": "p"}


def test_unknown_keys_are_named():
    desc = description()
    desc["hub"]["servers"][0]["adress"] = "10.0.0.9"
    assert problems_of(desc) == [
        "hub.servers[0].adress: unknown key; known keys are address, host, hostname, instance, platform, port",
    ]


def test_every_problem_is_reported_at_once():
    desc = description(domains=["bad domain"], tls=None)
    desc["hub"]["servers"][0]["port"] = 70000
    problems = problems_of(desc)
    assert len(problems) >= 3
    assert any(p.startswith("domains[0]") for p in problems)
    assert any(p.startswith("hub.servers[0].port") for p in problems)
    assert any(p.startswith("submission.tls") for p in problems)


def test_normalize_does_not_modify_the_input():
    desc = description()
    before = copy.deepcopy(desc)
    _topology.normalize(desc)
    assert desc == before


def test_thousand_domains():
    domains = ["example.org"] + ["d%04d.example" % i for i in range(999)]
    jobs = _topology.host_jobs(_topology.normalize(description(domains=domains)), "edge")
    assert jobs["inbound_relay"]["inbound_relay_domains"] == domains


def test_audit_targets_name_every_server():
    targets = _topology.audit_targets(_topology.normalize(description()))
    assert [(t["role"], t["host"], t["port"]) for t in targets] == [
        ("submission", "192.0.2.10", 587),
        ("submission", "192.0.2.10", 465),
        ("inbound_relay", "192.0.2.11", 25),
        ("hub", "10.0.0.2", 25),
    ]
    assert targets[1]["tls"] == "implicit" and "tls" not in targets[0]
    assert all(t["own_domains"] == ["example.org", "example.net"] and t["own_recipient"] == "postmaster" for t in targets)
    # No CA named: no verification, and nothing a remote probe would have to bind.
    assert all(t["tls_verify"] is False and "ca_path" not in t and "source_address" not in t for t in targets)
    submission = targets[0]
    assert submission["username"] == submission["sender"] == "alice@example.org"
    assert submission["other_sender"] == "mailrelay-audit-spoof@example.org"
    assert "password" not in submission


def test_audit_targets_carry_the_password_only_when_asked():
    targets = _topology.audit_targets(_topology.normalize(description()), credentials=True)
    assert targets[0]["password"] == targets[1]["password"] == "secret-1" and "password" not in targets[2]


def wide_description():
    """Several hubs, hosts with one, two and three jobs, IIS beside Postfix: every kind of sharing."""
    desc = description()
    desc["submission"]["servers"] += [
        {"host": "edge2", "address": "192.0.2.20", "port": 2587},
        {"host": "win1", "address": "192.0.2.30", "platform": "iis"},
        {"host": "all3", "address": "10.0.0.21"},
    ]
    desc["inbound_relay"]["servers"] += [{"host": "mx2", "address": "192.0.2.21"}, {"host": "all3", "address": "10.0.0.22"}]
    desc["hub"]["servers"] += [{"host": "core2", "address": "10.0.0.3", "port": 26}, {"host": "all3", "address": "10.0.0.23"}]
    desc["outbound"] = {"method": "smarthost", "smarthost": {"host": "192.0.2.99", "tls": "encrypt", "username": "u", "password": "pw"}}
    return desc


def test_jobs_by_host_derives_every_host_as_host_jobs_does():
    topology = _topology.normalize(wide_description())
    by_host = _topology.jobs_by_host(topology)
    servers = _topology.all_servers(topology)
    assert set(by_host) == {server["host"] for server in servers}
    for host in by_host:
        assert by_host[host] == _topology.host_jobs(topology, host)
    # Each server appears exactly once, under its own host and job, with its own settings.
    for server in servers:
        variables = by_host[server["host"]][server["job"]]
        assert variables["%s_address" % server["job"]] == server["address"]
        assert variables["%s_port" % server["job"]] == server["port"]
    assert sorted(by_host["all3"]) == ["hub", "inbound_relay", "submission"]
    assert _topology.host_jobs(topology, "nobody") == {}


def test_jobs_by_host_wires_every_hub_and_every_relay_in_description_order():
    by_host = _topology.jobs_by_host(_topology.normalize(wide_description()))
    hubs = [{"address": "10.0.0.2", "port": 25}, {"address": "10.0.0.3", "port": 26}, {"address": "10.0.0.23", "port": 25}]
    assert by_host["win1"]["submission"]["submission_next_hops"] == hubs
    assert by_host["mx2"]["inbound_relay"]["inbound_relay_next_hops"] == hubs
    for hub_host in ("core", "core2", "all3"):
        hub = by_host[hub_host]["hub"]
        assert hub["hub_relay_clients"] == [{"address": a} for a in ("192.0.2.10", "192.0.2.20", "192.0.2.30", "10.0.0.21")]
        assert hub["hub_inbound_relays"] == [{"address": a} for a in ("192.0.2.11", "192.0.2.21", "10.0.0.22")]
        assert hub["hub_smarthost"]["password"] == "pw"
    assert by_host["win1"]["submission"]["submission_instance"] == "mailrelay submission"


def test_jobs_by_host_walks_the_servers_once(monkeypatch):
    """One derivation for the whole play: the wiring is built once, not once per host."""
    topology = _topology.normalize(wide_description())
    built = []
    original = _topology._Wiring.__init__

    def counting_init(self, topo):
        built.append(topo)
        original(self, topo)

    monkeypatch.setattr(_topology._Wiring, "__init__", counting_init)
    by_host = _topology.jobs_by_host(topology)
    assert len(by_host) == 7 and len(built) == 1


def test_audit_targets_verify_tls_against_the_named_ca_and_the_server_name():
    desc = description(tls=dict(TLS, ca_file="/etc/ssl/mail-ca.pem"))
    desc["hub"]["tls"] = dict(TLS)  # its own material, no CA named
    desc["submission"]["servers"][0]["hostname"] = "smtp.example.org"
    targets = _topology.audit_targets(_topology.normalize(desc))
    submission, implicit_tls, relay, hub = targets
    for target in (submission, implicit_tls):
        assert (target["tls_verify"], target["ca_path"], target["tls_server_name"]) == (
            True, "/etc/ssl/mail-ca.pem", "smtp.example.org")
    assert relay["tls_server_name"] == "inbound-relay.example.org"
    assert hub["tls_verify"] is False and "ca_path" not in hub


@pytest.mark.parametrize("ca_file", ["", 5])
def test_tls_ca_file_must_be_a_path(ca_file):
    assert any(p.startswith("tls.ca_file:") for p in problems_of(description(tls=dict(TLS, ca_file=ca_file))))


def test_audit_recipient_receives_the_probe_mail():
    desc = description(audit={"recipient": "Relay-Audit@Example.org"})
    desc["hub"]["mailboxes"].append("relay-audit@example.org")
    targets = _topology.audit_targets(_topology.normalize(desc))
    assert {t["own_recipient"] for t in targets} == {"Relay-Audit@example.org"}


@pytest.mark.parametrize("audit, problem", [
    ({"recipient": "someone@elsewhere.example"}, "audit.recipient: someone@elsewhere.example is not in one of the own domains"),
    ({"recipient": "audit@example.org"}, "audit.recipient: audit@example.org is not one of hub.mailboxes"),
    ({"mailbox": "x"}, "audit.mailbox: unknown key"),
    ("yes", "audit: must be a mapping"),
])
def test_bad_audit_settings_are_named(audit, problem):
    assert any(p.startswith(problem) for p in problems_of(description(audit=audit))), problems_of(description(audit=audit))


def test_loopback_servers_are_probed_from_a_free_address_of_their_network():
    desc = description(outbound={"method": "smarthost", "smarthost": {"host": "127.0.1.254", "tls": "none"}})
    desc["submission"]["servers"] = [{"host": "lab", "address": "127.0.1.11"}]
    desc["inbound_relay"]["servers"] = [{"host": "lab", "address": "127.0.1.253"}]
    desc["hub"]["servers"] = [{"host": "lab", "address": "127.0.1.13"}]
    targets = _topology.audit_targets(_topology.normalize(desc))
    # Neither a server's address nor the smart host's: no job trusts it.
    assert {t["source_address"] for t in targets} == {"127.0.1.252"}
    # The brute-force series of the submission targets comes from the next free address: its lock-out
    # spoils neither the other cases nor the next audit.
    assert [(t["port"], t["auth_rate_limit"], t["auth_rate_source_address"]) for t in targets
            if t["role"] == "submission"] == [(587, 10, "127.0.1.251"), (465, 10, "127.0.1.251")]
    assert not any("auth_rate_limit" in t or "auth_rate_source_address" in t for t in targets if t["role"] != "submission")


def test_audit_targets_prove_the_auth_rate_limit_of_postfix_submission_servers():
    targets = _topology.audit_targets(_topology.normalize(wide_description()))
    limited = {(t["host"], t["port"]): t["auth_rate_limit"] for t in targets if "auth_rate_limit" in t}
    # Every Postfix submission server on each of its ports, no IIS one (no anvil), no other job.
    postfix_submission = {(t["host"], t["port"]) for t in targets if t["role"] == "submission" and t["platform"] == "postfix"}
    assert len(postfix_submission) >= 3 and limited == dict.fromkeys(postfix_submission, 10)
    assert [t for t in targets if t["platform"] == "iis" and t["role"] == "submission"]
    # Not on a loopback address: the series runs last from the probe's own address (no address to pick).
    assert not any("auth_rate_source_address" in t for t in targets)
    many = dict(description()["submission"], limits={"auth_rate_limit": 500})
    targets = _topology.audit_targets(_topology.normalize(description(submission=many)))
    # Too many to try one session each: not probed.
    assert not any("auth_rate_limit" in t for t in targets)


def test_relay_recipients_default_to_the_postfix_hubs_mailboxes():
    edge = _topology.host_jobs(_topology.normalize(description()), "edge")["inbound_relay"]
    assert edge["inbound_relay_recipients"] == ["alice@example.org"]
    assert edge["inbound_relay_recipient_validation"] == "list"
    given = _topology.host_jobs(_topology.normalize(description(
        inbound_relay={"servers": [{"host": "edge", "address": "192.0.2.11"}], "recipients": ["info@example.org"]})), "edge")
    assert given["inbound_relay"]["inbound_relay_recipients"] == ["info@example.org"]


def test_an_exchange_hub_needs_an_explicit_recipient_validation():
    exchange = {"servers": [{"host": "core", "address": "10.0.0.2", "platform": "exchange"}]}
    assert problems_of(description(hub=exchange)) == [
        "inbound_relay.recipient_validation: required: the relay cannot know the hub's recipients; list them in "
        "inbound_relay.recipients, or set verify (ask the hub at RCPT time) or off (accept every address of the own domains)"]
    for mode in ("verify", "off"):
        relay = {"servers": [{"host": "edge", "address": "192.0.2.11"}], "recipient_validation": mode}
        jobs = _topology.host_jobs(_topology.normalize(description(hub=exchange, inbound_relay=relay)), "edge")
        assert jobs["inbound_relay"]["inbound_relay_recipient_validation"] == mode
        assert jobs["inbound_relay"]["inbound_relay_recipients"] == []
    relay = {"servers": [{"host": "edge", "address": "192.0.2.11"}], "recipient_validation": "list"}
    assert problems_of(description(hub=exchange, inbound_relay=relay)) == [
        "inbound_relay.recipient_validation: list needs inbound_relay.recipients (the hub's recipients are not known)"]
    targets = _topology.audit_targets(_topology.normalize(description(
        hub=exchange, inbound_relay=dict(relay, recipient_validation="off"))))
    assert [t.get("cases") for t in targets if t["role"] == "inbound_relay"] == [{"exclude": ["unknown-recipient@*"]}]


def test_subdomains_only_when_asked():
    topology = _topology.normalize(description())
    assert _topology.host_jobs(topology, "edge")["inbound_relay"]["inbound_relay_include_subdomains"] is False
    wide = _topology.normalize(description(include_subdomains=True))
    assert _topology.host_jobs(wide, "core")["hub"]["hub_include_subdomains"] is True
    assert [t["cases"] for t in _topology.audit_targets(wide) if t["role"] == "inbound_relay"] == [{"exclude": ["subdomain@*"]}]
    assert problems_of(description(include_subdomains="yes")) == ["include_subdomains: must be true or false"]


def test_submission_ports_limits_and_received_privacy():
    edge = _topology.host_jobs(_topology.normalize(description()), "edge")["submission"]
    assert edge["submission_implicit_tls_port"] == 465 and edge["submission_auth_rate_limit"] == 10
    assert edge["submission_hide_client_in_received"] is True
    submission = dict(description()["submission"], implicit_tls_port=False, limits={"auth_rate_limit": 5},
                      hide_client_in_received=False)
    edge = _topology.host_jobs(_topology.normalize(description(submission=submission)), "edge")["submission"]
    assert edge["submission_implicit_tls_port"] == 0 and edge["submission_auth_rate_limit"] == 5
    assert edge["submission_recipient_limit"] == 100 and edge["submission_hide_client_in_received"] is False
    assert [t["port"] for t in _topology.audit_targets(_topology.normalize(description(submission=submission)))
            if t["role"] == "submission"] == [587]
    bad = dict(description()["submission"], implicit_tls_port=587, limits={"auth_rate_limit": 0, "typo": 1})
    assert problems_of(description(submission=bad)) == [
        "submission.implicit_tls_port: 587 is already the port of submission.servers[0]",
        "submission.limits.typo: unknown key; known keys are auth_rate_limit, connection_count_limit, "
        "connection_rate_limit, message_rate_limit, recipient_limit",
        "submission.limits.auth_rate_limit: must be a positive whole number, got 0",
    ]
    iis = dict(description()["submission"], servers=[{"host": "edge", "address": "192.0.2.10", "platform": "iis"}])
    assert _topology.host_jobs(_topology.normalize(description(submission=iis)), "edge")["submission"]["submission_implicit_tls_port"] == 0
    assert problems_of(description(submission=dict(iis, implicit_tls_port=465))) == [
        "submission.implicit_tls_port: IIS SMTP has no implicit TLS: set false for IIS submission servers"]


def test_postscreen_settings():
    edge = _topology.host_jobs(_topology.normalize(description()), "edge")["inbound_relay"]
    assert edge["inbound_relay_postscreen"] == {"enabled": True, "pipelining": True, "greet_wait": 6, "dnsbl_threshold": 3,
                                                "dnsbl_sites": [], "allowlist": []}
    relay = {"servers": [{"host": "edge", "address": "192.0.2.11"}],
             "postscreen": {"allowlist": ["198.51.100.7", "2001:db8::/48"], "dnsbl_sites": ["zen.example", {"site": "allow.example", "weight": -2}]}}
    edge = _topology.host_jobs(_topology.normalize(description(inbound_relay=relay)), "edge")["inbound_relay"]
    assert edge["inbound_relay_postscreen"]["allowlist"] == ["198.51.100.7/32", "2001:db8::/48"]
    assert edge["inbound_relay_postscreen"]["dnsbl_sites"] == [{"site": "zen.example", "weight": 1}, {"site": "allow.example", "weight": -2}]
    bad = dict(relay, postscreen={"allowlist": ["nope"], "dnsbl_sites": [{"site": "bad site"}], "greet_wait": -1})
    assert problems_of(description(inbound_relay=bad)) == [
        "inbound_relay.postscreen.greet_wait: must be a positive whole number, got -1",
        "inbound_relay.postscreen.dnsbl_sites[0].site: 'bad site' is not a DNS list name",
        "inbound_relay.postscreen.allowlist[0]: 'nope' is not an address or network",
    ]


def test_the_hub_trusts_postfix_submission_servers_by_certificate():
    topology = _topology.normalize(description())
    core = _topology.host_jobs(topology, "core")["hub"]
    assert core["hub_relay_client_certificates"] == [{"host": "edge", "cert_file": TLS["cert_file"]}]
    assert _topology.host_jobs(topology, "edge")["submission"]["submission_client_certificate"] is True
    by_address = _topology.normalize(description(hub=dict(description()["hub"], submission_trust="address")))
    assert _topology.host_jobs(by_address, "core")["hub"]["hub_relay_client_certificates"] == []
    assert _topology.host_jobs(by_address, "edge")["submission"]["submission_client_certificate"] is False
    iis = dict(description()["submission"], servers=[{"host": "edge", "address": "192.0.2.10", "platform": "iis"}])
    assert _topology.host_jobs(_topology.normalize(description(submission=iis)), "core")["hub"]["hub_relay_client_certificates"] == []
    assert problems_of(description(submission=iis, hub=dict(description()["hub"], submission_trust="certificate"))) == [
        "hub.submission_trust: certificate needs Postfix on the hub and the submission servers, and TLS material (tls) for both"]


def test_a_postfix_hub_takes_at_most_three_dns_servers():
    four = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]
    assert any(problem.startswith("outbound.dns_servers: a Postfix hub's resolver reads at most 3")
               for problem in problems_of(description(outbound={"method": "dns", "dns_servers": four})))
    three = _topology.normalize(description(outbound={"method": "dns", "dns_servers": four[:3]}))
    assert three["outbound"]["dns_servers"] == four[:3]
