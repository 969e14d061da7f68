# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IIS SMTP domains: options, plans, secrets, open-relay rules."""

from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _metabase, _metabase_domain, _metabase_server
from ansible_collections.mailrelay.smtp.plugins.module_utils._metabase import MetabaseError
from ansible_collections.mailrelay.smtp.tests.fakes.fake_metabase import FakeMetabase
from ansible_collections.mailrelay.smtp.tests.unit.plugins.module_utils._metabase_helpers import apply, domain_host, domains, spec
from ansible_collections.mailrelay.smtp.tests.unit.utils.iis_smtp_action import read_state as host_state
from ansible_collections.mailrelay.smtp.tests.unit.utils.windows_action import PayloadFailure


def test_domain_plan_creates_changes_and_removes_exclusively():
    fake, index = domain_host()
    specs = domains({"name": "Example.ORG", "allow_relay": True, "smart_host": "10.0.0.2"}, {"name": "alias.example.org", "type": "alias"})
    plan = _metabase_domain.plan_domains("relay", specs, host_state(fake, "relay"), exclusive=True)
    assert [(op["op"], op.get("domain"), op.get("name"), op.get("value")) for op in plan.operations] == [
        ("create_domain", "example.org", None, None),
        ("set_property", "example.org", "RouteAction", 0x1002),
        ("set_property", "example.org", "RouteActionString", "[10.0.0.2]"),
        ("create_domain", "alias.example.org", None, None),
        ("set_property", "alias.example.org", "RouteAction", 0x10),
        ("delete_domain", "old.example", None, None),
    ]
    assert plan.before["domains"]["old.example"]["smart_host"] == "[10.0.0.9]"
    assert plan.after["domains"]["old.example"] == "(absent)"
    apply(fake, plan)
    assert sorted(fake.servers[index]["domains"]) == ["alias.example.org", "example.org", "relay.invalid"]
    assert _metabase_domain.plan_domains("relay", specs, host_state(fake, "relay"), exclusive=True).operations == []


def test_domain_change_keeps_unmanaged_bits():
    fake, index = domain_host()
    fake.add_domain(index, "chunky.example", RouteAction=0x10000 | 0x1002, RouteActionString="[10.0.0.2]")
    plan = _metabase_domain.plan_domains("relay", domains({"name": "chunky.example", "allow_relay": True, "smart_host": "10.0.0.2", "tls": True}),
                                         host_state(fake, "relay"))
    assert [(op["name"], op["value"]) for op in plan.operations] == [("RouteAction", 0x10000 | 0x1002 | 0x4)]


def test_default_domain_is_never_managed_here():
    fake, dummy = domain_host()
    with pytest.raises(MetabaseError, match=r"domains\[0\].name: relay.invalid is the default domain"):
        _metabase_domain.plan_domains("relay", domains({"name": "relay.invalid"}), host_state(fake, "relay"))


def test_missing_server_is_an_error_except_in_check_mode():
    fake, dummy = domain_host()
    with pytest.raises(MetabaseError, match="server: virtual server 'nope' does not exist"):
        _metabase_domain.plan_domains("nope", domains({"name": "example.org"}), host_state(fake, "nope"))
    plan = _metabase_domain.plan_domains("nope", domains({"name": "example.org"}), host_state(fake, "nope"), missing_server_ok=True)
    assert plan.operations[0]["op"] == "create_domain" and plan.warnings


@pytest.mark.parametrize("item, fragment", [
    ({"name": "bad domain"}, r"domains\[0\].name"),
    ({"name": "x.example", "type": "alias", "allow_relay": True}, r"domains\[0\].allow_relay: an alias"),
    ({"name": "*.example", "type": "alias"}, r"domains\[0\].name: an alias domain cannot be a wildcard"),
    ({"name": "x.example", "authentication": "basic"}, r"domains\[0\].username: required"),
    ({"name": "x.example", "authentication": "basic", "username": "u"}, r"domains\[0\].tls: basic"),
    ({"name": "x.example", "password": "p"}, r"domains\[0\].password: only used"),
    ({"name": "x.example", "smart_host": "a b"}, r"domains\[0\].smart_host"),
])
def test_bad_domain_input_names_the_option(item, fragment):
    with pytest.raises(MetabaseError, match=fragment):
        domains(item)


def test_duplicate_domain_names():
    with pytest.raises(MetabaseError, match=r"domains\[1\].name: example.org is listed twice"):
        domains({"name": "example.org"}, {"name": "EXAMPLE.org"})


def test_domain_password_travels_as_a_named_secret():
    fake, index = domain_host()
    specs = domains({"name": "partner.example", "smart_host": "mx.partner.example", "tls": True, "authentication": "basic",
                     "username": "u", "password": "pw"})
    plan = _metabase_domain.plan_domains("relay", specs, host_state(fake, "relay"))
    assert plan.secrets == {"domain:partner.example": "pw"}
    assert "pw" not in repr(plan.operations)
    apply(fake, plan)
    assert fake.servers[index]["domains"]["partner.example"]["props"]["RoutePassword"] == "pw"
    assert _metabase_domain.plan_domains("relay", specs, host_state(fake, "relay")).operations == []


def test_wildcard_relay_domain_is_an_open_relay_risk():
    risks = _metabase_domain.domain_open_relay_risks([{"name": "*", "type": "remote", "allow_relay": True},
                                                     {"name": "*.com", "type": "remote", "allow_relay": True},
                                                     {"name": "*.example.org", "type": "remote", "allow_relay": True}])
    assert len(risks) == 2


def test_allow_relay_is_one_named_constant_and_reported_as_unconfirmed():
    """Item 3: 0x1000 lives in one place, and a plan that writes it says it is unconfirmed."""
    assert _metabase.fact("RouteAction.domain_relay") == _metabase.ALLOW_RELAY_TO_DOMAIN == 0x1000
    assert _metabase.ROUTE_ACTION["domain_relay"] is _metabase.ALLOW_RELAY_TO_DOMAIN
    assert _metabase._FACTS["RouteAction.domain_relay"].confidence == "unconfirmed"
    fake, dummy = domain_host()
    plan = _metabase_domain.plan_domains("relay", domains({"name": "example.org", "allow_relay": True, "smart_host": "10.0.0.2"}),
                                         host_state(fake, "relay"))
    assert plan.unconfirmed == [_metabase.UNCONFIRMED["RouteAction.domain_relay"]]
    assert "0x1000" in plan.unconfirmed[0]
    no_relay = _metabase_domain.plan_domains("relay", domains({"name": "example.org", "smart_host": "10.0.0.2"}), host_state(fake, "relay"))
    assert no_relay.unconfirmed == []


def test_a_new_server_has_the_domain_container_so_its_first_domain_can_be_created():
    """Item 2: the fake refuses a domain under a server without the Domain container, as ADSI does."""
    fake = FakeMetabase.windows_default()
    apply(fake, _metabase_server.plan_server(spec(mail_root="C:\\mail\\submission"), host_state(fake)))
    index, server = fake.server_by_name("mailrelay submission")
    assert server["keys"] == {"Domain": {"class": "IIsConfigObject"},
                              "Root": {"class": "IIsSmtpVirtualDir", "path": "C:\\mail\\submission"}}
    apply(fake, _metabase_domain.plan_domains("mailrelay submission", domains({"name": "example.org", "smart_host": "10.0.0.2"}),
                                              host_state(fake, "mailrelay submission")))
    assert list(fake.servers[index]["domains"]) == ["example.org"]


def test_a_server_made_without_the_domain_container_gets_it_with_its_first_domain():
    fake = FakeMetabase.windows_default()
    index = fake.add_server("made elsewhere", bindings=["192.0.2.12:25:"])
    del fake.servers[index]["keys"]["Domain"]
    plan = _metabase_domain.plan_domains("made elsewhere", domains({"name": "example.org"}), host_state(fake, "made elsewhere"))
    assert plan.operations[0]["container_class"] == "IIsConfigObject"
    apply(fake, plan)
    assert fake.servers[index]["keys"]["Domain"] == {"class": "IIsConfigObject"}
    old_style = [dict(op) for op in plan.operations]
    del fake.servers[index]["keys"]["Domain"]
    fake.servers[index]["domains"].clear()
    old_style[0].pop("container_class")
    with pytest.raises(PayloadFailure, match="cannot find the path"):
        fake.handle("iis_smtp", dict(_metabase.read_parameters(), Mode="apply", Operations=old_style), {})
