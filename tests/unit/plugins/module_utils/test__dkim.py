# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import base64
import subprocess

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dkim, _postfix_jobs, _topology

KEYS = [
    {"key_selector": "s1-hub", "algorithm": "rsa", "active": False},
    {"key_selector": "s2-hub", "algorithm": "rsa", "active": True},
    {"key_selector": "s2-hub-ed25519", "algorithm": "ed25519", "active": True},
]


def test_key_selectors_are_per_hub_host_and_algorithm():
    assert _dkim.key_selector("mailrelay1", "rsa", "hub.example.org") == "mailrelay1-hub"
    assert _dkim.key_selector("mailrelay1", "ed25519", "core2.example.net") == "mailrelay1-core2-ed25519"


def test_one_signer_per_algorithm_on_consecutive_ports():
    where = _dkim.paths("postfix-hub")
    rsa = _dkim.signer_paths(where, "postfix-hub", "rsa")
    ed = _dkim.signer_paths(where, "postfix-hub", "ed25519")
    assert rsa["config"] == "/etc/mailrelay/opendkim/postfix-hub/opendkim.conf"
    assert ed["config"] == "/etc/mailrelay/opendkim/postfix-hub/opendkim-ed25519.conf"
    assert rsa["pid"] != ed["pid"] and rsa["unit"] != ed["unit"] and rsa["internal_hosts"] == ed["internal_hosts"]
    assert _dkim.milter("127.0.0.1", 8891, ["rsa", "ed25519"]) == "inet:127.0.0.1:8891, inet:127.0.0.1:8892"
    assert _dkim.milter("::1", 8891, ["rsa"]) == "inet:[::1]:8891"
    config = _dkim.render_config(ed, "127.0.0.1", 8891)
    assert "Socket inet:8892@127.0.0.1" in config.splitlines()
    assert "SignatureAlgorithm ed25519-sha256" in config.splitlines()
    assert "Mode s" in config.splitlines()
    assert "InternalHosts file:/etc/mailrelay/opendkim/postfix-hub/internal.hosts" in config.splitlines()


def test_tables_sign_every_domain_with_the_active_keys_only():
    where = _dkim.paths("postfix-hub")
    rsa = [key for key in KEYS if key["algorithm"] == "rsa"]
    assert _dkim.render_key_table(where, rsa) == "s2-hub %:s2-hub:/etc/mailrelay/opendkim/postfix-hub/keys/s2-hub.private\n"
    assert _dkim.render_signing_table(["example.org", "example.net"], rsa) == "*@example.org s2-hub\n*@example.net s2-hub\n"


def test_only_the_hub_itself_and_the_given_clients_are_internal():
    assert _dkim.render_internal_hosts(["192.0.2.10", "127.0.0.1"]) == "127.0.0.1\n192.0.2.10\n"


def test_postfix_parameters_add_the_milters_or_remove_them():
    on = _dkim.postfix_parameters("inet:127.0.0.1:8891")
    assert on == {"smtpd_milters": "inet:127.0.0.1:8891", "non_smtpd_milters": "$smtpd_milters", "milter_default_action": "tempfail"}
    assert _dkim.postfix_parameters(None) == {"smtpd_milters": None, "non_smtpd_milters": None, "milter_default_action": None}


def test_validation_names_each_bad_option():
    assert _dkim.validate([{"key_selector": "Bad_Sel", "algorithm": "dsa"}], [], ["nope"], 0) == [
        "keys[0].key_selector: 'Bad_Sel' is not a DNS label",
        "keys[0].algorithm: 'dsa' is not one of rsa, ed25519",
        "keys: no key is active; mark the keys of the signing selector with active: true",
        "domains: at least one domain to sign for is needed",
        "internal_hosts[0]: 'nope' is not an address or network",
        "port: 0 is not a TCP port",
    ]
    assert _dkim.validate(KEYS, ["example.org"], ["192.0.2.0/24"], 8891) == []


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_public_key_is_what_dkim_publishes(tmp_path, algorithm):
    key = tmp_path / "key.pem"
    subprocess.run(_dkim.generate_command(algorithm, str(key)), check=True, capture_output=True)
    pem = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout"], check=True, capture_output=True, text=True).stdout
    value = _dkim.public_key(algorithm, pem)
    raw = base64.b64decode(value)
    if algorithm == "ed25519":
        # RFC 8463: the bare 32-byte key, not its SubjectPublicKeyInfo.
        assert len(raw) == 32
    else:
        text = subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-noout", "-text"], input=raw, check=True, capture_output=True).stdout
        assert b"Public-Key: (2048 bit)" in text
    with pytest.raises(ValueError):
        _dkim.public_key("ed25519", pem if algorithm == "rsa" else "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_the_topology_gives_the_postfix_hub_its_keys_and_milters():
    description = {
        "domains": ["example.org"],
        "hub": {"servers": [{"host": "core", "address": "192.0.2.2", "hostname": "hub.example.org"}]},
        "submission": {"servers": [{"host": "edge", "address": "192.0.2.10"}], "users": [{"login": "a@example.org", "password": "x"}]},
        "tls": {"cert_file": "/c", "key_file": "/k"},
        "dkim": {"selectors": ["s1", "s2"], "active": "s2"},
    }
    topology = _topology.normalize(description)
    hub = _topology.host_jobs(topology, "core")["hub"]
    signing = hub["hub_dkim"]
    assert [(key["key_selector"], key["active"]) for key in signing["keys"]] == [
        ("s1-hub", False), ("s1-hub-ed25519", False), ("s2-hub", True), ("s2-hub-ed25519", True),
    ]
    assert signing["milter"] == "inet:127.0.0.1:8891, inet:127.0.0.1:8892"
    settings = {key[len("hub_"):]: value for key, value in hub.items()}
    main_cf = _postfix_jobs.hub(settings)["main_cf"]
    assert main_cf["smtpd_milters"] == "inet:127.0.0.1:8891, inet:127.0.0.1:8892"
    assert main_cf["non_smtpd_milters"] == "$smtpd_milters"
    settings["dkim"] = None
    assert _postfix_jobs.hub(settings)["main_cf"]["smtpd_milters"] is None
    description["dkim"] = {"selectors": ["s1"], "algorithms": ["rsa"]}
    only_rsa = _topology.host_jobs(_topology.normalize(description), "core")["hub"]["hub_dkim"]
    assert only_rsa["milter"] == "inet:127.0.0.1:8891" and len(only_rsa["keys"]) == 1
    description["hub"]["servers"][0]["platform"] = "exchange"
    assert _topology.host_jobs(_topology.normalize(description), "core")["hub"]["hub_dkim"] is None
