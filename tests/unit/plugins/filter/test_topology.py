# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mailrelay.smtp.plugins.filter.topology import FilterModule
from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology

FILTERS = FilterModule().filters()
DESCRIPTION = {
    "domains": ["example.org"],
    "tls": {"cert_file": "/c.pem", "key_file": "/k.pem"},
    "submission": {"servers": [{"host": "a", "address": "192.0.2.1"}], "users": [{"login": "u@example.org", "password": "p"}]},
    "hub": {"servers": [{"host": "b", "address": "192.0.2.2"}]},
}


def test_jobs_of_a_host_carry_the_secrets_the_role_needs():
    jobs = FILTERS["topology_jobs"](DESCRIPTION, "a")
    assert list(jobs) == ["submission"]
    assert jobs["submission"]["submission_users"][0]["password"] == "p"
    assert FILTERS["topology_jobs"](DESCRIPTION, "nobody") == {}


def test_hosts_and_audit_targets():
    assert FILTERS["topology_hosts"](DESCRIPTION) == ["a", "b"]
    assert [t["role"] for t in FILTERS["topology_audit_targets"](DESCRIPTION)] == ["submission", "submission", "hub"]


def test_invalid_description_is_a_filter_error_naming_the_field():
    with pytest.raises(AnsibleFilterError, match=r"hub.servers\[0\].host: 'b' is not in the inventory"):
        FILTERS["topology_jobs"](DESCRIPTION, "a", ["a"])


def test_jobs_by_host_validates_once_and_answers_as_the_per_host_filter(monkeypatch):
    calls = []
    normalize = _topology.normalize
    monkeypatch.setattr(_topology, "normalize", lambda *args: calls.append(args) or normalize(*args))
    by_host = FILTERS["topology_jobs_by_host"](DESCRIPTION, ["a", "b"])
    assert len(calls) == 1
    assert by_host == {host: FILTERS["topology_jobs"](DESCRIPTION, host) for host in ("a", "b")}
    assert by_host["a"]["submission"]["submission_users"][0]["password"] == "p"


def test_jobs_by_host_refuses_an_invalid_description_naming_the_field():
    with pytest.raises(AnsibleFilterError, match=r"hub.servers\[0\].host: 'b' is not in the inventory"):
        FILTERS["topology_jobs_by_host"](DESCRIPTION, ["a"])


def test_diagram_is_dot_without_secrets_and_refuses_bad_options():
    source = FILTERS["topology_diagram"](DESCRIPTION, "Mail", ipv4_prefix=16)
    assert source.startswith("digraph mailrelay_topology {") and 'label="Mail"' in source
    assert "network 192.0.0.0/16" in source and '"p"' not in source and "u@example.org" not in source
    with pytest.raises(AnsibleFilterError, match="ipv4_prefix must be a prefix length between 0 and 32"):
        FILTERS["topology_diagram"](DESCRIPTION, ipv4_prefix=33)
    with pytest.raises(AnsibleFilterError, match="domains: required: at least one own mail domain"):
        FILTERS["topology_diagram"](dict(DESCRIPTION, domains=[]))
