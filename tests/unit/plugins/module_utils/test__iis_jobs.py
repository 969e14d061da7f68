# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The IIS translation of the submission and inbound relay jobs: every setting each job gets."""

from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _iis_jobs, _metabase_domain, _metabase_server

PLATFORM = {
    "mail_root_base": "C:\\inetpub\\mailrelay\\",
    "internet_facing": True,
    "submission_authentication": ["basic", "integrated"],
    "submission_certificate_thumbprint": "0123456789ABCDEF0123456789ABCDEF01234567",
    "submission_connection_ip_list": {"grant_by_default": True, "entries": ["192.0.2.66"]},
    "inbound_relay_default_domain": "inbound-relay.invalid",
    "inbound_relay_certificate_thumbprint": "",
    "inbound_relay_exclusive_domains": True,
}
SUBMISSION = {
    "instance": "mailrelay submission", "address": "192.0.2.10", "port": 587, "hostname": "smtp.example.org",
    "placeholder_domain": "submission.invalid", "next_hops": [{"address": "10.0.0.2", "port": 2525}, {"address": "10.0.0.3"}],
    "users": [{"login": "alice@example.org", "password": "x"}], "tls_cert_file": None, "tls_key_file": None,
    "max_message_size": "10485760", "sasl_path": "", "sender_login_maps": "",
}
INBOUND = {
    "instance": "mailrelay inbound relay", "address": "192.0.2.11", "port": 25, "hostname": "mx.example.org",
    "domains": ["example.org", "example.net"], "next_hops": [{"address": "10.0.0.2", "port": 25}],
    "recipients": [], "tls_cert_file": None, "tls_key_file": None, "max_message_size": None,
}


def test_submission_gets_every_setting():
    resources = _iis_jobs.resources_for("submission", SUBMISSION, PLATFORM)
    assert resources["mail_root"] == "C:\\inetpub\\mailrelay\\mailrelay-submission"
    assert resources["domains"] is None
    assert resources["server"] == {
        "name": "mailrelay submission",
        "state": "started",
        "bindings": [{"address": "192.0.2.10", "port": 587}],
        "default_domain": "submission.invalid",
        "fqdn": "smtp.example.org",
        "authentication": ["basic", "integrated"],
        "require_tls": True,
        "tls_certificate_thumbprint": "0123456789ABCDEF0123456789ABCDEF01234567",
        "relay_for_authenticated": True,
        "relay_ip_list": {"grant_by_default": False, "entries": []},
        "connection_ip_list": {"grant_by_default": True, "entries": ["192.0.2.66"]},
        "smart_host": "10.0.0.2",
        "smart_host_type": "always",
        "outbound_port": 2525,
        "max_message_size": 10485760,
        "mail_root": "C:\\inetpub\\mailrelay\\mailrelay-submission",
        "internet_facing": True,
    }
    assert resources["notes"] == [
        "IIS takes one smart host: 10.0.0.2 is used, 10.0.0.3 ignored.",
        "Users authenticate with Windows or Active Directory accounts; submission_users is not applied on IIS "
        "(create the accounts, and restrict senders on the hub).",
    ]


def test_inbound_relay_gets_every_setting():
    resources = _iis_jobs.resources_for("inbound_relay", INBOUND, PLATFORM)
    assert resources["mail_root"] == "C:\\inetpub\\mailrelay\\mailrelay-inbound-relay"
    assert resources["server"] == {
        "name": "mailrelay inbound relay",
        "state": "started",
        "bindings": [{"address": "192.0.2.11", "port": 25}],
        "default_domain": "inbound-relay.invalid",
        "fqdn": "mx.example.org",
        "authentication": ["anonymous"],
        "require_tls": False,
        "relay_for_authenticated": False,
        "relay_ip_list": {"grant_by_default": False, "entries": []},
        # Issue 13, item 4: the relay's own non-delivery notices leave through the hub.
        "smart_host": "10.0.0.2",
        "smart_host_type": "always",
        "outbound_port": 25,
        "mail_root": "C:\\inetpub\\mailrelay\\mailrelay-inbound-relay",
        "internet_facing": True,
    }
    assert resources["domains"] == {
        "server": "mailrelay inbound relay",
        "exclusive": True,
        "internet_facing": True,
        "domains": [{"name": "example.org", "type": "remote", "allow_relay": True, "smart_host": "10.0.0.2"},
                    {"name": "example.net", "type": "remote", "allow_relay": True, "smart_host": "10.0.0.2"}],
    }
    assert resources["notes"] == []


def test_what_iis_cannot_do_is_said():
    inbound = dict(INBOUND, recipients=["alice@example.org"], next_hops=[{"address": "10.0.0.2"}, {"address": "10.0.0.3"}])
    notes = _iis_jobs.resources_for("inbound_relay", inbound, PLATFORM)["notes"]
    assert "inbound_relay_recipients is not applied" in notes[0] and notes[1] == "IIS routes each domain to one smart host: 10.0.0.2 is used."


def test_an_empty_mail_root_base_keeps_the_service_folders():
    resources = _iis_jobs.resources_for("submission", SUBMISSION, dict(PLATFORM, mail_root_base=""))
    assert resources["mail_root"] == "" and "mail_root" not in resources["server"]


def test_the_options_are_ones_the_modules_accept():
    """What the builders produce passes the modules' own validation."""
    for job, settings in (("submission", SUBMISSION), ("inbound_relay", INBOUND)):
        resources = _iis_jobs.resources_for(job, settings, PLATFORM)
        _metabase_server.build_server_spec(resources["server"])
        if resources["domains"]:
            assert len(_metabase_domain.build_domain_specs(resources["domains"])) == len(settings["domains"])


@pytest.mark.parametrize("job, settings, fragment", [
    ("submission", dict(SUBMISSION, next_hops=[]), "submission_next_hops: empty"),
    ("inbound_relay", dict(INBOUND, next_hops=[]), "inbound_relay_next_hops: empty"),
    ("inbound_relay", dict(INBOUND, domains=[]), "inbound_relay_domains: empty"),
])
def test_jobs_iis_cannot_serve_are_refused(job, settings, fragment):
    with pytest.raises(_iis_jobs.IisJobError, match=fragment):
        _iis_jobs.resources_for(job, settings, PLATFORM)
