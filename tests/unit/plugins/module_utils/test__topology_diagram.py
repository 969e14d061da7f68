# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The DOT source of a topology, read back by Graphviz itself (``dot -Tjson``, Debian package graphviz)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology, _topology_diagram

SECRETS = ("user-pw-1", "user-pw-2", "relay-login", "smart-pw", "smart-user")


def description():
    return {
        "domains": ["example.org", "example.net"],
        "tls": {"cert_file": "/etc/ssl/mail.pem", "key_file": "/etc/ssl/private/mail.key"},
        "submission": {
            "servers": [
                {"host": "edge1", "address": "192.0.2.10", "hostname": "smtp.example.org"},
                {"host": "win1", "address": "192.0.2.30", "platform": "iis", "instance": 'IIS "quoted" \\ name'},
            ],
            "users": [
                {"login": "alice@example.org", "password": "user-pw-1"},
                {"login": "relay-login", "password": "user-pw-2", "senders": ["bob@example.org"]},
            ],
        },
        "inbound_relay": {"servers": [{"host": "edge1", "address": "192.0.2.11"}, {"host": "mx2", "address": "198.51.100.7", "port": 2525}]},
        "hub": {
            "servers": [{"host": "core", "address": "10.0.0.2"}, {"host": "core2", "address": "2001:db8::25", "port": 26}],
            "mailboxes": ["postmaster@example.org"],
        },
        "outbound": {
            "method": "smarthost",
            "smarthost": {"host": "relay.example.com", "port": 587, "tls": "encrypt", "username": "smart-user", "password": "smart-pw"},
        },
    }


def dot_of(desc, **options):
    return _topology_diagram.dot_source(_topology.normalize(desc), **options)


def graphviz_json(source):
    if not shutil.which("dot"):
        pytest.fail("Graphviz's dot is missing: scripts/bootstrap.sh installs the Debian package graphviz")
    return json.loads(subprocess.run(["dot", "-Tjson"], input=source, capture_output=True, text=True, check=True).stdout)


def drawn(item):
    """The text lines Graphviz draws for a node, an edge or a cluster label, one per line."""
    return "\n".join(op["text"] for op in item.get("_ldraw_", []) if op["op"] == "T")


def parsed(source):
    """``(drawn text by node name, edges as (tail, head, drawn label), node names by drawn cluster label)``."""
    graph = graphviz_json(source)
    objects = graph["objects"]
    nodes = {obj["name"]: drawn(obj) for obj in objects if not obj["name"].startswith("cluster_")}
    edges = [(objects[edge["tail"]]["name"], objects[edge["head"]]["name"], drawn(edge)) for edge in graph["edges"]]
    clusters = {drawn(obj): sorted(objects[index]["name"] for index in obj.get("nodes", []))
                for obj in objects if obj["name"].startswith("cluster_")}
    return nodes, edges, clusters


def test_every_server_is_a_node_with_its_address_and_port():
    nodes, dummy, dummy = parsed(dot_of(description()))
    topology = _topology.normalize(description())
    for job in _topology.JOBS:
        for index, server in enumerate(_topology.servers_of(topology, job)):
            text = nodes["%s_%d" % (job, index)]
            assert "%s port %d" % (server["address"], server["port"]) in text
            assert server["host"] in text and server["hostname"] in text
    assert 'iis: IIS "quoted" \\ name' in nodes["submission_1"]


def test_every_mail_path_is_an_edge():
    dummy, edges, dummy = parsed(dot_of(description()))
    pairs = {(tail, head) for tail, head, dummy in edges}
    submissions, relays, hubs = ("submission_0", "submission_1"), ("inbound_relay_0", "inbound_relay_1"), ("hub_0", "hub_1")
    expected = set()
    for submission in submissions:
        expected.add(("roaming_users", submission))
        expected.update((submission, hub) for hub in hubs)
    for relay in relays:
        expected.add(("internet_senders", relay))
        expected.update((relay, hub) for hub in hubs)
    for hub in hubs:
        expected.update({(hub, "own_mailboxes"), (hub, "outbound")})
    assert pairs == expected and len(edges) == len(expected)
    labels = {(tail, head): text for tail, head, text in edges}
    assert labels[("roaming_users", "submission_0")] == "port 587\nAUTH after STARTTLS"
    assert labels[("internet_senders", "inbound_relay_1")] == "port 2525\nown domains only"
    assert labels[("submission_1", "hub_1")] == "[2001:db8::25]:26\nany domain (trusted)"
    assert labels[("inbound_relay_0", "hub_0")] == "[10.0.0.2]:25\nown domains"
    assert labels[("hub_0", "outbound")] == "outbound through the smart host\nTLS encrypt, AUTH"


def test_the_hub_shows_whom_it_trusts():
    nodes, dummy, dummy = parsed(dot_of(description()))
    assert "relays to any domain for: 192.0.2.10, 192.0.2.30" in nodes["hub_0"]
    assert "own domains from: 192.0.2.11, 198.51.100.7" in nodes["hub_1"]


def test_hosts_are_grouped_by_network():
    dummy, dummy, clusters = parsed(dot_of(description()))
    assert clusters["network 192.0.2.0/24"] == ["inbound_relay_0", "submission_0", "submission_1"]
    assert clusters["host edge1"] == ["inbound_relay_0", "submission_0"]
    assert clusters["network 198.51.100.0/24"] == ["inbound_relay_1"]
    assert clusters["network 2001:db8::/64"] == ["hub_1"]
    dummy, dummy, wide = parsed(dot_of(description(), ipv4_prefix=8))
    assert wide["network 192.0.0.0/8"] == ["inbound_relay_0", "submission_0", "submission_1"]


def test_a_host_in_two_networks_is_drawn_once_under_both():
    desc = description()
    desc["hub"]["servers"][0]["host"] = "edge1"
    dummy, dummy, clusters = parsed(dot_of(desc))
    assert clusters["network 10.0.0.0/24, 192.0.2.0/24"] == ["hub_0", "inbound_relay_0", "submission_0"]
    assert "network 10.0.0.0/24" not in clusters


def test_no_secret_and_no_login_is_drawn():
    source = dot_of(description())
    for secret in SECRETS + ("alice@example.org", "/etc/ssl/private/mail.key"):
        assert secret not in source
    nodes, dummy, dummy = parsed(source)
    assert nodes["roaming_users"] == "roaming users\n2 account(s)"


def test_outbound_by_dns_names_its_servers():
    desc = description()
    desc["outbound"] = {"method": "dns", "dns_servers": ["192.0.2.53"]}
    nodes, edges, dummy = parsed(dot_of(desc))
    assert nodes["outbound"] == "the Internet\nMX hosts of foreign domains"
    assert {text for tail, head, text in edges if head == "outbound"} == {"outbound by DNS (MX)\nasking 192.0.2.53"}


def test_long_lists_are_cut_and_the_same_description_gives_the_same_bytes():
    desc = description()
    desc["domains"] = ["d%04d.example" % index for index in range(1000)]
    desc["hub"]["mailboxes"] = ["postmaster@d0000.example"]
    for user in desc["submission"]["users"]:
        user["senders"] = ["%s@d0000.example" % user["login"].split("@", maxsplit=1)[0]]
    source = dot_of(desc, title="Big")
    assert "d0000.example, d0001.example, d0002.example, d0003.example and 996 more" in source
    assert source == dot_of(desc, title="Big")
    assert graphviz_json(source)["label"] == "Big"


def test_a_job_that_is_absent_draws_no_path():
    desc = description()
    del desc["submission"], desc["inbound_relay"]
    nodes, edges, dummy = parsed(dot_of(desc))
    assert "roaming_users" not in nodes and "internet_senders" not in nodes
    assert {(tail, head) for tail, head, dummy in edges} == {(hub, end) for hub in ("hub_0", "hub_1") for end in ("own_mailboxes", "outbound")}
