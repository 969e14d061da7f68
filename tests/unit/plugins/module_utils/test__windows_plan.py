# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IIS and Exchange plans have one shape: every resource's plan function returns a ResourcePlan."""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import (
    _exchange_domains,
    _exchange_transport,
    _metabase_domain,
    _metabase_server,
)
from ansible_collections.mailrelay.smtp.plugins.module_utils._windows_plan import ResourcePlan
from ansible_collections.mailrelay.smtp.plugins.plugin_utils import _windows_resource
from ansible_collections.mailrelay.smtp.tests.fakes.fake_metabase import FakeMetabase
from ansible_collections.mailrelay.smtp.tests.unit.utils.iis_smtp_action import read_state


def test_iis_plans_are_resource_plans():
    host = read_state(FakeMetabase.windows_default())
    server = _metabase_server.plan_server(_metabase_server.build_server_spec({"name": "[SMTP Virtual Server #1]", "state": "stopped"}), host)
    domains = _metabase_domain.plan_domains("[SMTP Virtual Server #1]", _metabase_domain.build_domain_specs({"domains": [{"name": "example.org"}]}), host)
    for plan in (server, domains):
        assert isinstance(plan, ResourcePlan) and plan.operations


def test_exchange_plans_are_resource_plans():
    domains = _exchange_domains.plan(_exchange_domains.build_desired({"domains": [{"domain": "example.org"}], "default_domain": None}), [])
    assert isinstance(domains, ResourcePlan) and [op["op"] for op in domains.operations] == ["new_accepted_domain"]
    transport = _exchange_transport.plan(_exchange_transport.build_desired({
        "server": "EX01", "external_dns_servers": ["192.0.2.53"], "external_dns_adapter_enabled": None, "external_dns_protocol": None,
        "internal_dns_servers": None, "internal_dns_adapter_enabled": None, "internal_dns_protocol": None}),
        _exchange_transport.decode({"transport_service": {"identity": "EX01", "external_dns_servers": [], "external_dns_adapter_enabled": True,
                                                          "external_dns_protocol_option": "Any", "internal_dns_servers": [],
                                                          "internal_dns_adapter_enabled": True, "internal_dns_protocol_option": "Any"}}, "EX01"))
    assert isinstance(transport, ResourcePlan) and transport


def test_the_action_base_runs_the_same_class():
    assert _windows_resource.Plan is ResourcePlan
    plan = ResourcePlan()
    plan.relies_on("a fact")
    plan.relies_on("a fact")
    assert plan.unconfirmed == ["a fact"] and not plan
