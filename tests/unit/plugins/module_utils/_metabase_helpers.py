# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers of the IIS metabase tests: a submission server's options, applying a plan to the fake, a relay with domains."""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _metabase, _metabase_domain, _metabase_server
from ansible_collections.mailrelay.smtp.tests.fakes.fake_metabase import FakeMetabase


SUBMISSION = dict(
    name="mailrelay submission", state="started",
    bindings=[{"address": "192.0.2.10", "port": 587}],
    default_domain="submission.invalid", fqdn="smtp.example.org",
    authentication=["basic", "integrated"], require_tls=True, relay_for_authenticated=True,
    relay_ip_list={"grant_by_default": False, "entries": []},
    smart_host="10.0.0.2", outbound_port=25, max_message_size=10485760,
)


def spec(**overrides):
    params = dict(SUBMISSION)
    params.update(overrides)
    return _metabase_server.build_server_spec(params)


def apply(fake, plan):
    secrets = _metabase.secrets_parameter(plan.secrets)
    fake.handle("iis_smtp", dict(_metabase.read_parameters(), Mode="apply", Operations=plan.operations), secrets)


def domain_host():
    fake = FakeMetabase()
    index = fake.add_server("relay", bindings=["192.0.2.11:25:"])
    fake.add_domain(index, "relay.invalid", RouteAction=0x40)
    fake.add_domain(index, "old.example", RouteAction=0x1002, RouteActionString="[10.0.0.9]")
    return fake, index


def domains(*items, **params):
    return _metabase_domain.build_domain_specs(dict(params, domains=list(items)))
