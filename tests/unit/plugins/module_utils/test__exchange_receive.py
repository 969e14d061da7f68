# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Receive connector model and plan, without any host."""

from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex
from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_receive as rc

ANON = "NT AUTHORITY\\ANONYMOUS LOGON"
DN = "CN=mailrelay relay,CN=SMTP Receive Connectors,CN=Protocols,CN=EX01,CN=Servers,CN=Configuration,DC=corp,DC=example"
GROUP_ANON = ["ms-Exch-SMTP-Submit", "ms-Exch-SMTP-Accept-Any-Sender", "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender", "ms-Exch-Accept-Headers-Routing"]


def params(**overrides):
    base = {
        "server": "EX01",
        "name": "mailrelay relay",
        "state": "present",
        "transport_role": "FrontendTransport",
        "bindings": ["10.0.0.2:25"],
        "remote_ip_ranges": ["10.0.0.11"],
        "permission_groups": ["AnonymousUsers"],
        "auth_mechanisms": ["Tls"],
        "require_tls": None,
        "fqdn": None,
        "max_message_size": None,
        "enabled": None,
        "anonymous_relay": True,
        "permissions": None,
        "exclusive": True,
        "allow_broad_relay": False,
    }
    base.update(overrides)
    return base


def entry(right, sid="S-1-5-7", user=ANON, deny=False, inherited=False):
    return {"user": user, "sid": sid, "extended_rights": [right], "access_rights": "ExtendedRight", "deny": deny, "inherited": inherited}


def raw_connector(permissions=None, **overrides):
    raw = {
        "identity": "EX01\\mailrelay relay",
        "name": "mailrelay relay",
        "server": "EX01",
        "transport_role": "FrontendTransport",
        "bindings": ["10.0.0.2:25"],
        "remote_ip_ranges": ["10.0.0.11"],
        "permission_groups": "AnonymousUsers, Custom",
        "auth_mechanism": "Tls",
        "require_tls": False,
        "fqdn": "ex01.corp.example",
        "max_message_size": "36 MB (37,748,736 bytes)",
        "enabled": True,
        "distinguished_name": DN,
        "permissions": permissions if permissions is not None else [entry(r) for r in GROUP_ANON] + [entry(rc.RELAY_RIGHT)],
    }
    raw.update(overrides)
    return raw


def plan_for(options, raw=None, principal_sids=None):
    desired = rc.build_desired(params(**options))
    rc.resolve_declared(desired, principal_sids or {})
    current = rc.decode_connector(raw) if raw is not None else None
    plan = rc.plan(desired, current)
    return plan.operations, plan.before, plan.after


def test_create_is_one_new_call_plus_the_declared_rights_not_written_by_groups():
    ops, before, after = plan_for({})
    assert [op["op"] for op in ops] == ["new_receive_connector", "add_ad_permission"]
    new = ops[0]["parameters"]
    assert new == {
        "Name": "mailrelay relay", "Server": "EX01", "TransportRole": "FrontendTransport", "Custom": True,
        "Bindings": ["10.0.0.2:25"], "RemoteIPRanges": ["10.0.0.11"], "PermissionGroups": "AnonymousUsers", "AuthMechanism": "Tls",
    }
    assert ops[1]["target_new"] == "EX01\\mailrelay relay"
    assert ops[1]["parameters"] == {"User": "S-1-5-7", "ExtendedRights": [rc.RELAY_RIGHT]}
    assert before == {}
    assert "ALLOW S-1-5-7 ms-Exch-SMTP-Accept-Any-Recipient" in after["permissions"]


def test_no_change_means_no_operation():
    ops, before, after = plan_for({}, raw_connector())
    assert ops == []
    assert before == after


def test_many_ranges_and_permissions_are_one_set_call_and_one_call_per_principal():
    ranges = ["10.1.%d.%d" % (i // 200, i % 200) for i in range(600)]
    extra = [{"principal": "S-1-5-21-1-2-3-%d" % i, "rights": ["ms-Exch-SMTP-Submit", "ms-Exch-Bypass-Anti-Spam"], "deny": False} for i in range(5)]
    ops, dummy, dummy = plan_for({"remote_ip_ranges": ranges, "permissions": extra}, raw_connector())
    kinds = [op["op"] for op in ops]
    assert kinds == ["set_receive_connector"] + ["add_ad_permission"] * 5
    assert len(ops[0]["parameters"]["RemoteIPRanges"]) == 600
    assert all(op["parameters"]["ExtendedRights"] == ["ms-Exch-Bypass-Anti-Spam", "ms-Exch-SMTP-Submit"] for op in ops[1:])


def test_ranges_compare_by_addresses_not_by_notation():
    raw = raw_connector(remote_ip_ranges=["10.0.0.0-10.0.0.3", "10.0.0.11"])
    ops, dummy, dummy = plan_for({"remote_ip_ranges": ["10.0.0.11", "10.0.0.0/30"]}, raw)
    assert ops == []


def test_exclusive_removes_stray_explicit_rights_only():
    exchange_server = "S-1-9-1419165041-1139599005-3936102811-1022490595-21"
    permissions = [entry(r) for r in GROUP_ANON] + [
        entry(rc.RELAY_RIGHT),
        entry(rc.RELAY_RIGHT, sid="S-1-1-0", user="Everyone"),                         # stray: removed
        entry("ms-Exch-Bypass-Anti-Spam"),                                           # stray: removed
        entry(rc.RELAY_RIGHT, sid="S-1-5-11", user="NT AUTHORITY\\Authenticated Users", inherited=True),  # inherited: kept
        entry("ms-Exch-SMTP-Submit", sid=exchange_server, user="MS Exchange\\Hub Transport Servers"),      # Exchange's: kept
        {"user": "CORP\\Organization Management", "sid": "S-1-5-21-9", "extended_rights": ["User-Force-Change-Password"],
         "access_rights": "ExtendedRight", "deny": False, "inherited": False},     # not a receive right: kept
    ]
    ops, before, after = plan_for({}, raw_connector(permissions))
    assert [(op["op"], op["parameters"]["User"], op["parameters"]["ExtendedRights"]) for op in ops] == [
        ("remove_ad_permission", "S-1-1-0", [rc.RELAY_RIGHT]),
        ("remove_ad_permission", "S-1-5-7", ["ms-Exch-Bypass-Anti-Spam"]),
    ]
    assert all(op["target_dn"] == DN for op in ops)
    assert "ALLOW S-1-1-0 (Everyone) ms-Exch-SMTP-Accept-Any-Recipient" in before["permissions"]
    assert not any("S-1-1-0" in line for line in after["permissions"])


def test_not_exclusive_keeps_strays_but_still_grants():
    permissions = [entry(r) for r in GROUP_ANON] + [entry("ms-Exch-Bypass-Anti-Spam")]
    ops, dummy, dummy = plan_for({"exclusive": False}, raw_connector(permissions))
    assert [op["op"] for op in ops] == ["add_ad_permission"]


def test_relay_right_is_removed_when_no_longer_wanted():
    ops, dummy, dummy = plan_for({"anonymous_relay": False}, raw_connector())
    assert [(op["op"], op["parameters"]) for op in ops] == [("remove_ad_permission", {"User": "S-1-5-7", "ExtendedRights": [rc.RELAY_RIGHT]})]


def test_localized_names_match_by_sid():
    german = "NT-AUTORITÄT\\ANONYMOUS-ANMELDUNG"
    permissions = [entry(r, user=german) for r in GROUP_ANON] + [entry(rc.RELAY_RIGHT, user=german)]
    ops, dummy, dummy = plan_for({}, raw_connector(permissions))
    assert ops == []


def test_localized_names_without_sid_fall_back_to_the_well_known_names():
    german = "NT-AUTORITÄT\\ANONYMOUS-ANMELDUNG"
    permissions = [entry(r, sid=None, user=german) for r in GROUP_ANON] + [entry(rc.RELAY_RIGHT, sid=None, user=german)]
    ops, dummy, dummy = plan_for({}, raw_connector(permissions))
    assert ops == []


def test_account_names_are_compared_by_the_sid_the_host_translated():
    app = "S-1-5-21-1004336348-1177238915-682003330-2201"
    permissions = [entry(r) for r in GROUP_ANON] + [entry(rc.RELAY_RIGHT), entry(rc.RELAY_RIGHT, sid=app, user="CORP\\App-Relay")]
    declared = [{"principal": "corp\\app-relay", "rights": [rc.RELAY_RIGHT], "deny": False}]
    ops, dummy, dummy = plan_for({"permissions": declared}, raw_connector(permissions), {"corp\\app-relay": app})
    assert ops == []
    # Without the translation the name does not match the SID: the grant is planned by name.
    ops, dummy, dummy = plan_for({"permissions": declared}, raw_connector(permissions), {"corp\\app-relay": None})
    assert [(op["op"], op["parameters"]["User"]) for op in ops] == [("remove_ad_permission", app), ("add_ad_permission", "corp\\app-relay")]


def test_deny_entries_are_their_own_permissions():
    declared = [{"principal": "authenticated_users", "rights": [rc.RELAY_RIGHT], "deny": True}]
    ops, dummy, dummy = plan_for({"permissions": declared}, raw_connector())
    assert [(op["op"], op["parameters"]) for op in ops] == [
        ("add_ad_permission", {"User": "S-1-5-11", "ExtendedRights": [rc.RELAY_RIGHT], "Deny": True}),
    ]


def test_permission_group_change_plans_against_the_rewritten_entries():
    # ExchangeUsers goes away: Exchange drops its entries itself; AnonymousUsers stays.
    permissions = [entry(r) for r in GROUP_ANON] + [entry(rc.RELAY_RIGHT)] + [
        entry(r, sid="S-1-5-11", user="NT AUTHORITY\\Authenticated Users") for r in rc.GROUP_PERMISSIONS["ExchangeUsers"][1]
    ]
    ops, dummy, after = plan_for({}, raw_connector(permissions, permission_groups="AnonymousUsers, ExchangeUsers"))
    assert [(op["op"], op["parameters"]) for op in ops] == [
        ("set_receive_connector", {"PermissionGroups": "AnonymousUsers", "Identity": "EX01\\mailrelay relay"}),
    ]
    assert not any("S-1-5-11" in line for line in after["permissions"])


def test_setting_changes_go_into_one_set_call():
    ops, before, after = plan_for(
        {"require_tls": True, "fqdn": "HUB.corp.example", "max_message_size": "20MB", "bindings": ["10.0.0.2:25", "[2001:db8::2]:25"]},
        raw_connector(),
    )
    assert len(ops) == 1 and ops[0]["op"] == "set_receive_connector"
    assert ops[0]["parameters"] == {
        "Identity": "EX01\\mailrelay relay", "RequireTLS": True, "Fqdn": "HUB.corp.example", "MaxMessageSize": "20MB",
        "Bindings": ["10.0.0.2:25", "[2001:db8::2]:25"],
    }
    assert ops[0]["name"] == "bindings, fqdn, max_message_size, require_tls"
    assert before["max_message_size"] == "36MB" and after["max_message_size"] == "20MB"


def test_fqdn_compares_case_insensitively_and_unmanaged_settings_stay():
    ops, dummy, dummy = plan_for({"fqdn": "EX01.corp.example", "auth_mechanisms": None, "permission_groups": None}, raw_connector())
    assert ops == []


def test_absent():
    ops, before, after = plan_for({"state": "absent"}, raw_connector())
    assert [(op["op"], op["parameters"]) for op in ops] == [("remove_receive_connector", {"Identity": "EX01\\mailrelay relay"})]
    assert after == {} and before["identity"] == "EX01\\mailrelay relay"
    assert plan_for({"state": "absent"})[0] == []


@pytest.mark.parametrize(
    "options, message",
    [
        ({"name": "Default Frontend EX01"}, "name: 'Default Frontend EX01' is one of Exchange's default receive connectors"),
        ({"name": "client proxy ex01"}, "default receive connectors"),
        ({"remote_ip_ranges": []}, "remote_ip_ranges: at least one"),
        ({"remote_ip_ranges": ["10.0.0.0/16"]}, "remote_ip_ranges: anonymous relay would be open to 10.0.0.0/16"),
        ({"remote_ip_ranges": ["0.0.0.0-255.255.255.255"]}, "allow_broad_relay"),
        ({"permissions": [{"principal": "everyone", "rights": [rc.RELAY_RIGHT], "deny": False}], "anonymous_relay": False,
          "remote_ip_ranges": ["192.0.0.0/20"]}, "anonymous relay would be open"),
        ({"auth_mechanisms": ["None", "Tls"]}, "auth_mechanisms: None cannot be combined"),
        ({"auth_mechanisms": ["BasicAuthRequireTLS", "Tls"]}, "BasicAuthRequireTLS needs BasicAuth and Tls"),
        ({"require_tls": True, "auth_mechanisms": ["Integrated"]}, "require_tls: needs Tls"),
        ({"permissions": [{"principal": "anonymous", "rights": ["Ms-Exch-Open-Relay"], "deny": False}]},
         "permissions[0].rights[0]: 'Ms-Exch-Open-Relay' is not"),
        ({"permissions": [{"principal": "anonymous", "rights": [], "deny": False}]}, "permissions[0].rights: at least one"),
        ({"bindings": ["10.0.0.2"]}, "bindings[0]"),
        ({"server": "ex 01"}, "server:"),
    ],
)
def test_bad_input_names_the_option(options, message):
    with pytest.raises(ex.ExchangeInputError) as info:
        plan_for(options)
    assert message in str(info.value)


def test_broad_ranges_pass_when_explicitly_allowed_or_without_relay():
    assert plan_for({"remote_ip_ranges": ["10.0.0.0/16"], "allow_broad_relay": True})[0]
    assert plan_for({"remote_ip_ranges": ["10.0.0.0/16"], "anonymous_relay": False})[0]


def test_relay_without_anonymous_submit_is_refused():
    with pytest.raises(ex.ExchangeInputError, match="permission_groups: anonymous relay needs AnonymousUsers"):
        plan_for({"permission_groups": ["ExchangeUsers"]})
    # Unmanaged groups: the connector's current groups count.
    with pytest.raises(ex.ExchangeInputError, match="needs AnonymousUsers"):
        plan_for({"permission_groups": None}, raw_connector(permission_groups="ExchangeUsers"))
    declared = [{"principal": "S-1-5-7", "rights": ["ms-Exch-SMTP-Submit"], "deny": False}]
    assert plan_for({"permission_groups": [], "permissions": declared})[0]


def test_transport_role_cannot_change():
    with pytest.raises(ex.ExchangeInputError, match="transport_role: EX01.mailrelay relay exists in HubTransport"):
        plan_for({}, raw_connector(transport_role="HubTransport"))


def test_find_connector_is_exact():
    document = {"receive_connectors": [
        raw_connector(identity="EX01\\mailrelay relay 2", name="mailrelay relay 2"),
        raw_connector(identity="EX02\\mailrelay relay"),
        raw_connector(identity="EX01\\Mailrelay Relay"),
    ]}
    found = rc.find_connector(document, "EX01\\mailrelay relay")
    assert found["identity"] == "EX01\\Mailrelay Relay"
    assert rc.find_connector({"receive_connectors": document["receive_connectors"][:2]}, "EX01\\mailrelay relay") is None


def test_relay_verdict_counts_inherited_entries_and_denies():
    allow = rc.decode_permissions([entry(rc.RELAY_RIGHT, inherited=True)])
    assert rc.is_anonymous_relay(allow)
    denied = rc.decode_permissions([entry(rc.RELAY_RIGHT), entry(rc.RELAY_RIGHT, deny=True)])
    assert not rc.is_anonymous_relay(denied)
    assert not rc.is_anonymous_relay(rc.decode_permissions([entry(rc.RELAY_RIGHT, sid="S-1-5-11")]))
