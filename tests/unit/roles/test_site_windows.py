# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/site.yml deploys the same topology description to a Windows host.

The submission server and the inbound relay are IIS SMTP virtual servers on
the fake Windows host (conftest.py); the hub is a Postfix host that this play
does not reach (``mailrelay_hosts``), but its address wires the relays.
"""

from __future__ import annotations

import json
import sys

import yaml

from ansible_collections.mailrelay.smtp.plugins.module_utils import _iis_ip_security_list
from ansible_collections.mailrelay.smtp.tests.fakes.fake_exchange import FakeExchange

TOPOLOGY = {
    "domains": ["example.org", "example.net"],
    "submission": {
        "servers": [{"host": "winfake", "address": "192.0.2.10", "platform": "iis", "hostname": "smtp.example.org"}],
        "users": [{"login": "alice@example.org", "password": "Windows-Account-Pw1"}],
    },
    "inbound_relay": {"servers": [{"host": "winfake", "address": "192.0.2.11", "platform": "iis", "hostname": "mx.example.org"}]},
    "hub": {"servers": [{"host": "hub1", "address": "10.0.0.2"}], "mailboxes": ["alice@example.org"]},
    "tls": {"cert_file": "/etc/ssl/hub.pem", "key_file": "/etc/ssl/hub.key"},
}


def inventory(topology=None):
    hosts = {
        "winfake": {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "iis_smtp_submission_certificate_thumbprint": "0123456789ABCDEF0123456789ABCDEF01234567",
        },
    }
    if topology is None:
        topology = TOPOLOGY
        hosts["hub1"] = {"ansible_host": "10.0.0.2"}
    return yaml.safe_dump({"all": {"hosts": hosts, "vars": {"mailrelay_topology": topology}}})


def test_the_topology_deploys_to_iis_and_rerun_changes_nothing(fake_windows):
    play, host = fake_windows("mailrelay.smtp.site", inventory())
    report, stats = play("-e", "mailrelay_hosts=winfake")
    assert stats["changed"] > 0
    metabase = host().metabase

    relay = metabase.server_by_name("mailrelay inbound relay")[1]
    assert relay["props"]["ServerBindings"] == ["192.0.2.11:25:"]
    assert relay["props"]["AuthFlags"] == 1
    assert _iis_ip_security_list.decode_blob(relay["props"]["RelayIpList"]) == _iis_ip_security_list.AccessList(False)
    # One remote domain per own domain, routed to the hub the description names.
    assert sorted(relay["domains"]) == ["example.net", "example.org"]
    assert {domain["props"]["RouteActionString"] for domain in relay["domains"].values()} == {"[10.0.0.2]"}

    submission = metabase.server_by_name("mailrelay submission")[1]
    assert submission["props"]["ServerBindings"] == ["192.0.2.10:587:"]
    assert submission["props"]["SmartHost"] == "[10.0.0.2]"
    assert submission["props"]["RelayForAuth"] == 0xFFFFFFFF  # -1 as the DWORD the metabase stores
    assert submission["props"]["DefaultDomain"] == "submission.invalid"

    report, stats = play("-e", "mailrelay_hosts=winfake")
    assert stats["changed"] == 0
    assert "Windows-Account-Pw1" not in json.dumps(report)


def test_a_bad_description_touches_no_windows_host(fake_windows):
    clash = dict(TOPOLOGY, inbound_relay={"servers": [{"host": "winfake", "address": "192.0.2.10", "platform": "iis"}]})
    play, host = fake_windows("mailrelay.smtp.site", inventory(clash))
    before = host().calls
    try:
        play("-e", "mailrelay_hosts=winfake")
    except AssertionError as exc:
        assert "inbound_relay.servers[0].address: 192.0.2.10 is already the listen address of submission.servers[0]" in str(exc)
    else:
        raise AssertionError("site.yml accepted two jobs on one address")
    assert host().calls == before


def test_an_exchange_hub_behind_iis_relays(fake_windows):
    """The hub named as Exchange: its relay connector admits exactly the submission server."""
    topology = dict(TOPOLOGY, hub={"servers": [{"host": "winfake", "address": "192.0.2.2", "platform": "exchange"}]})
    exchange = FakeExchange(servers=("winfake",), local_server="winfake")
    play, host = fake_windows("mailrelay.smtp.site", inventory(topology), exchange=exchange)
    report, stats = play()
    assert stats["changed"] > 0
    fake = host()
    relay = fake.exchange.connector("winfake", "mailrelay relay")
    assert [text for dummy, text in relay["ranges"]] == ["192.0.2.10"]
    assert ("S-1-5-7", "ms-Exch-SMTP-Accept-Any-Recipient", False) in fake.exchange.explicit_aces(relay)
    assert {d["domain"] for d in fake.exchange.accepted_domains} >= {"example.org", "example.net"}
    assert fake.metabase.server_by_name("mailrelay submission")[1]["props"]["SmartHost"] == "[192.0.2.2]"
    report, stats = play()
    assert stats["changed"] == 0
