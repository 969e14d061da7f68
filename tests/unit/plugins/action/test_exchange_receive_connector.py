# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mailrelay.smtp.exchange_receive_connector against the fake Exchange."""

from __future__ import annotations

import json

import pytest

from ansible_collections.mailrelay.smtp.plugins.action.exchange_receive_connector import ActionModule
from ansible_collections.mailrelay.smtp.tests.fakes.fake_exchange import ANONYMOUS, DOMAIN_SID, EVERYONE, FakeExchange
from ansible_collections.mailrelay.smtp.tests.unit.plugins.action._exchange_helpers import Run

RELAY = "ms-Exch-SMTP-Accept-Any-Recipient"
ARGS = {
    "server": "EX01",
    "name": "mailrelay relay",
    "bindings": ["10.0.0.2:25"],
    "remote_ip_ranges": ["10.0.0.11", "10.0.0.12"],
    "permission_groups": ["AnonymousUsers"],
    "auth_mechanisms": ["Tls"],
    "anonymous_relay": True,
    "fqdn": "hub.corp.example",
}


@pytest.fixture
def fake():
    return FakeExchange(servers=("EX01", "EX02"))


def run(fake, check_mode=False, diff=False, **overrides):
    return Run(fake, ActionModule, dict(ARGS, **overrides), check_mode=check_mode, diff=diff)


def relay_aces(fake, server="EX01", name="mailrelay relay"):
    return [ace for ace in fake.explicit_aces(fake.connector(server, name)) if ace[1] == RELAY]


def test_create_then_no_op(fake):
    first = run(fake, diff=True)
    assert first.result["changed"] is True, first.result
    assert first.modes == ["read", "apply"]
    assert "Operations" not in first.call("read")["parameters"]
    assert [op["op"] for op in first.call("apply")["parameters"]["Operations"]] == ["new_receive_connector", "add_ad_permission"]
    assert first.changing_cmdlets() == ["New-ReceiveConnector", "Add-ADPermission"]
    connector = fake.connector("EX01", "mailrelay relay")
    assert connector["transport_role"] == "FrontendTransport"
    assert [text for dummy, text in connector["ranges"]] == ["10.0.0.11", "10.0.0.12"]
    assert relay_aces(fake) == [(ANONYMOUS, RELAY, False)]
    assert first.result["anonymous_relay"] is True
    assert first.result["connector"]["identity"] == "EX01\\mailrelay relay"
    assert "ms-Exch-SMTP-Accept-Any-Recipient" in first.result["diff"]["after"]

    second = run(fake)
    assert second.result["changed"] is False
    assert second.modes == ["read"]
    assert second.changing_cmdlets() == []


def test_change_ranges_and_settings_in_one_apply(fake):
    run(fake)
    changed = run(fake, remote_ip_ranges=["10.0.0.11", "10.0.1.0/28"], require_tls=True, max_message_size="20MB", diff=True)
    assert changed.result["changed"] is True
    assert changed.modes == ["read", "apply"]
    assert changed.changing_cmdlets() == ["Set-ReceiveConnector"]
    connector = fake.connector("EX01", "mailrelay relay")
    assert [text for dummy, text in connector["ranges"]] == ["10.0.0.11", "10.0.1.0/28"]
    assert connector["require_tls"] is True and connector["max_message_size"] == 20 * 1024 * 1024
    assert "  - 10.0.0.12\n" in changed.result["diff"]["before"]
    assert "  - 10.0.1.0/28\n" in changed.result["diff"]["after"]
    assert run(fake, remote_ip_ranges=["10.0.1.0-10.0.1.15", "10.0.0.11"], require_tls=True, max_message_size=20971520).result["changed"] is False


def test_exclusive_removes_stray_permissions_in_the_same_apply(fake):
    run(fake)
    connector = fake.connector("EX01", "mailrelay relay")
    fake.grant(connector, EVERYONE, RELAY)                                   # stale hand-made relay right
    fake.grant(connector, ANONYMOUS, "ms-Exch-Bypass-Anti-Spam")              # stray extra right
    fake.grant(connector, DOMAIN_SID % 2202, RELAY)                           # an old scanner account
    fake.grant(connector, "S-1-5-11", RELAY, inherited=True)                  # inherited: not ours to remove
    cleaned = run(fake, diff=True)
    assert cleaned.result["changed"] is True
    assert cleaned.modes == ["read", "apply"]
    assert cleaned.changing_cmdlets() == ["Remove-ADPermission"] * 3
    explicit = fake.explicit_aces(connector)
    assert (EVERYONE, RELAY, False) not in explicit
    assert (DOMAIN_SID % 2202, RELAY, False) not in explicit
    assert (ANONYMOUS, "ms-Exch-Bypass-Anti-Spam", False) not in explicit
    assert any(a["sid"] == "S-1-5-11" and a["inherited"] for a in connector["aces"])
    assert (ANONYMOUS, "ms-Exch-SMTP-Submit", False) in explicit     # written by AnonymousUsers: kept
    assert "CORP\\scanner" in cleaned.result["diff"]["before"]
    assert "CORP\\scanner" not in cleaned.result["diff"]["after"]
    assert run(fake).result["changed"] is False


def test_check_mode_reports_and_diffs_without_an_apply_call(fake):
    run(fake)
    fake.grant(fake.connector("EX01", "mailrelay relay"), EVERYONE, RELAY)
    before = fake.explicit_aces(fake.connector("EX01", "mailrelay relay"))
    checked = run(fake, check_mode=True, diff=True, remote_ip_ranges=["10.0.0.11"])
    assert checked.result["changed"] is True
    assert checked.modes == ["read"]
    assert checked.changing_cmdlets() == []
    assert fake.explicit_aces(fake.connector("EX01", "mailrelay relay")) == before
    assert "ALLOW S-1-1-0 (Everyone) ms-Exch-SMTP-Accept-Any-Recipient" in checked.result["diff"]["before"]
    assert "S-1-1-0" not in checked.result["diff"]["after"]
    # Check mode on a connector that does not exist yet.
    fresh = run(fake, check_mode=True, name="another relay")
    assert fresh.result["changed"] is True and fresh.modes == ["read"]
    assert not any(c["name"] == "another relay" for c in fake.receive_connectors)


@pytest.mark.parametrize("sid_source", ["object", "translate", "none"])
def test_german_active_directory_matches_anonymous_logon_by_sid(sid_source):
    fake = FakeExchange(locale="de")
    fake.sid_source = sid_source
    created = run(fake)
    assert created.result["changed"] is True, created.result
    # The grant used the SID: the English name does not exist in a German directory.
    grants = [params for name, params in fake.calls if name == "Add-ADPermission"]
    assert grants and grants[0]["User"] == ANONYMOUS
    assert relay_aces(fake) == [(ANONYMOUS, RELAY, False)]
    users = {p["user"] for p in created.result["permissions"]}
    assert "NT-AUTORITÄT\\ANONYMOUS-ANMELDUNG" in users and "NT AUTHORITY\\ANONYMOUS LOGON" not in users
    assert run(fake).result["changed"] is False


def test_english_name_fails_in_a_german_directory_which_is_why_sids_are_used():
    fake = FakeExchange(locale="de")
    run(fake)
    result = run(fake, permissions=[{"principal": "NT AUTHORITY\\ANONYMOUS LOGON", "rights": ["ms-Exch-Bypass-Anti-Spam"]}]).result
    # The English well-known name maps to S-1-5-7 on the controller, so the grant still goes by SID.
    assert result["changed"] is True, result
    assert (ANONYMOUS, "ms-Exch-Bypass-Anti-Spam", False) in fake.explicit_aces(fake.connector("EX01", "mailrelay relay"))


def test_account_names_are_translated_in_the_same_read(fake):
    run(fake)
    first = run(fake, permissions=[{"principal": "CORP\\app-relay", "rights": [RELAY]}])
    assert first.modes == ["read", "apply"]
    assert (DOMAIN_SID % 2201, RELAY, False) in fake.explicit_aces(fake.connector("EX01", "mailrelay relay"))
    again = run(fake, permissions=[{"principal": "corp\\APP-relay", "rights": [RELAY.upper()]}])
    assert again.result["changed"] is False and again.modes == ["read"]


def test_round_trips_do_not_grow_with_ranges_or_permissions(fake):
    ranges = ["10.%d.%d.%d" % (20 + i // 65536, (i // 256) % 256, i % 256) for i in range(500)]
    permissions = [{"principal": "CORP\\app-relay", "rights": ["ms-Exch-SMTP-Submit", "ms-Exch-Bypass-Anti-Spam", RELAY]},
                   {"principal": "everyone", "rights": [RELAY], "deny": True}]
    created = run(fake, remote_ip_ranges=ranges, permissions=permissions)
    assert created.modes == ["read", "apply"]
    assert len(fake.connector("EX01", "mailrelay relay")["ranges"]) == 500
    changed = run(fake, remote_ip_ranges=ranges[:-1], permissions=permissions[:1])
    assert changed.modes == ["read", "apply"]
    unchanged = run(fake, remote_ip_ranges=ranges[:-1], permissions=permissions[:1])
    assert unchanged.modes == ["read"]
    assert unchanged.result["changed"] is False


def test_exact_identity_leaves_similar_names_and_other_servers_alone(fake):
    fake.add_connector("EX01", "mailrelay relay 2", ranges=["192.0.2.1"])
    fake.add_connector("EX01", "old mailrelay relay", ranges=["192.0.2.2"])
    fake.add_connector("EX02", "mailrelay relay", ranges=["192.0.2.3"])
    for server, name in (("EX01", "mailrelay relay 2"), ("EX01", "old mailrelay relay"), ("EX02", "mailrelay relay")):
        fake.grant(fake.connector(server, name), EVERYONE, RELAY)
    snapshot = json.dumps([fake.explicit_aces(c) for c in fake.receive_connectors], sort_keys=True, default=str)
    run(fake)
    assert fake.connector("EX01", "mailrelay relay")
    others = [c for c in fake.receive_connectors if not (c["server"] == "EX01" and c["name"] == "mailrelay relay")]
    assert json.dumps([fake.explicit_aces(c) for c in others], sort_keys=True, default=str) == snapshot
    # Every permission call went to the new connector's own directory object.
    dn = fake.connector("EX01", "mailrelay relay")["dn"]
    assert all(params["Identity"] == dn for name, params in fake.calls if name.endswith("ADPermission"))


def test_default_connectors_are_refused_before_any_call(fake):
    result = run(fake, name="Default Frontend EX01")
    assert result.result["failed"] is True
    assert "default receive connectors" in result.result["msg"]
    assert result.modes == []


def test_broad_anonymous_relay_is_refused_before_any_call(fake):
    result = run(fake, remote_ip_ranges=["10.0.0.0/8"])
    assert result.result["failed"] is True and "allow_broad_relay" in result.result["msg"]
    assert result.modes == []
    allowed = run(fake, remote_ip_ranges=["10.0.0.0/8"], allow_broad_relay=True)
    assert allowed.result["changed"] is True


def test_remove(fake):
    run(fake)
    removed = run(fake, state="absent")
    assert removed.result["changed"] is True and removed.changing_cmdlets() == ["Remove-ReceiveConnector"]
    assert not any(c["name"] == "mailrelay relay" for c in fake.receive_connectors)
    assert run(fake, state="absent").modes == ["read"]


def test_exchange_errors_are_reported_with_their_code(fake):
    # Exchange refuses a second connector with the same bindings and remote ranges.
    fake.add_connector("EX01", "someone else's", bindings=["10.0.0.2:25"], ranges=["10.0.0.11", "10.0.0.12"])
    result = run(fake).result
    assert result["failed"] is True and result["error_code"] == "exchange_error"
    assert "Bindings and RemoteIPRanges" in result["msg"]
    result = run(fake, server="EX09").result
    assert result["failed"] is True and result["error_code"] == "not_found"


def test_a_setting_the_server_does_not_keep_fails_the_task(fake, monkeypatch):
    run(fake)
    original = fake._apply_receive_settings

    def forgets_fqdn(connector, settings):
        original(connector, {k: v for k, v in settings.items() if k != "Fqdn"})

    monkeypatch.setattr(fake, "_apply_receive_settings", forgets_fqdn)
    result = run(fake, fqdn="other.corp.example").result
    assert result["failed"] is True
    assert "did not keep these settings: fqdn" in result["msg"]


def test_transport_role_change_is_refused(fake):
    run(fake)
    result = run(fake, transport_role="HubTransport").result
    assert result["failed"] is True and "transport_role" in result["msg"]
