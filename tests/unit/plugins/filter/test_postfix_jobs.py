# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certificate_fingerprint filter agrees with OpenSSL's own SHA-256 fingerprint."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.mailrelay.smtp.plugins.filter.postfix_jobs import FilterModule

FILTERS = FilterModule().filters()


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command")
def test_fingerprint_matches_openssl(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=t.invalid",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    shown = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256"],
                           check=True, capture_output=True, text=True).stdout
    assert FILTERS["certificate_fingerprint"](cert.read_text()) == shown.strip().split("=", 1)[1]


def test_no_certificate_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="certificate_fingerprint: no PEM certificate"):
        FILTERS["certificate_fingerprint"]("not a certificate")


# host_postfix_instances and hub_foreign_certificates: a host's whole Postfix plan in one step.
# (tests/unit/roles/test_site_derive.py shows, with real ansible-playbook, that the plan equals
# what the job roles add when they run.)
TOPOLOGY = {
    "domains": ["example.org"],
    "tls": {"cert_file": "/etc/ssl/m.pem", "key_file": "/etc/ssl/m.key"},
    "submission": {
        "servers": [{"host": "core", "address": "192.0.2.10"}, {"host": "edge", "address": "192.0.2.20"}],
        "users": [{"login": "alice@example.org", "password": "host-plan-secret"}],
    },
    "inbound_relay": {"servers": [{"host": "edge", "address": "192.0.2.11"}]},
    "hub": {"servers": [{"host": "core", "address": "10.0.0.2"}], "submission_trust": "certificate"},
}


def jobs_by_host(topology=None):
    from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology
    return _topology.jobs_by_host(_topology.normalize(topology or TOPOLOGY))


def test_a_host_plans_the_hub_first_then_the_relay_then_submission():
    jobs = jobs_by_host()
    core = FILTERS["host_postfix_instances"](jobs["core"], "core", ["AA:BB"])
    assert [instance["name"] for instance in core] == ["postfix-hub", "postfix-submission"]
    # The hub trusts the foreign certificate's fingerprint and reads the one on its own host itself.
    hub_main_cf = repr(core[0])
    assert "AA:BB" in hub_main_cf and "/etc/ssl/m.pem" in hub_main_cf
    assert core[1]["dovecot_sasl"] == {"users": [{"login": "alice@example.org", "password": "host-plan-secret"}], "hash_iterations": 100000}
    edge = FILTERS["host_postfix_instances"](jobs["edge"], "edge")
    assert [instance["name"] for instance in edge] == ["postfix-inbound-relay", "postfix-submission"]
    assert FILTERS["host_postfix_instances"]({}, "bystander") == []


def test_the_hub_reads_only_the_certificates_of_other_hosts_and_only_for_the_hubs_asked_for():
    jobs = jobs_by_host()
    assert FILTERS["hub_foreign_certificates"](jobs, ["core", "edge"]) == [{"hub": "core", "host": "edge", "cert_file": "/etc/ssl/m.pem"}]
    assert FILTERS["hub_foreign_certificates"](jobs, ["edge"]) == []
    with pytest.raises(AnsibleFilterError, match="hub_foreign_certificates: expects the result of topology_jobs_by_host"):
        FILTERS["hub_foreign_certificates"](["core"], ["core"])


def test_role_variables_outside_the_topology_are_honoured():
    jobs = jobs_by_host()
    settings = {"submission": {"dovecot_manage": False, "sasl_path": "private/auth-ldap", "hash_iterations": 5000}}
    (dummy, submission) = FILTERS["host_postfix_instances"](jobs["core"], "core", [], settings)
    assert "dovecot_sasl" not in submission
    assert "private/auth-ldap" in repr(submission["main_cf"])


def test_bad_settings_are_refused_naming_the_field():
    jobs = jobs_by_host()
    with pytest.raises(AnsibleFilterError, match="submission_sasl_path: needed when submission_dovecot_manage is false"):
        FILTERS["host_postfix_instances"](jobs["edge"], "edge", [], {"submission": {"dovecot_manage": False}})
    broken = dict(jobs["edge"], inbound_relay=dict(jobs["edge"]["inbound_relay"], inbound_relay_port=0))
    with pytest.raises(AnsibleFilterError, match="inbound_relay_port"):
        FILTERS["host_postfix_instances"](broken, "edge")
    with pytest.raises(AnsibleFilterError, match="host_postfix_instances: the jobs of edge are not"):
        FILTERS["host_postfix_instances"]({"hub": "not a mapping"}, "edge")


def test_jobs_on_windows_are_left_to_their_roles():
    jobs = jobs_by_host()
    windows = dict(jobs["edge"], inbound_relay=dict(jobs["edge"]["inbound_relay"], inbound_relay_platform="iis"))
    assert [instance["name"] for instance in FILTERS["host_postfix_instances"](windows, "edge")] == ["postfix-submission"]
