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
        "smtp_relay: unknown job; known jobs are submission, inbound_relay, hub (other keys: domains, tls, outbound, publishing)"
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
        ("inbound_relay", "192.0.2.11", 25),
        ("hub", "10.0.0.2", 25),
    ]
    assert all(t["own_domains"] == ["example.org", "example.net"] and t["own_recipient"] == "alice@example.org" for t in targets)
    submission = targets[0]
    assert submission["username"] == submission["sender"] == "alice@example.org"
    assert submission["other_sender"] == "mailrelay-audit-spoof@example.org"
    assert "password" not in submission


def test_audit_targets_carry_the_password_only_when_asked():
    targets = _topology.audit_targets(_topology.normalize(description()), credentials=True)
    assert targets[0]["password"] == "secret-1" and "password" not in targets[1]
