# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mailrelay.smtp.plugins.filter.topology import FilterModule

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
