# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mailrelay.smtp.exchange_info and the session handling shared by every Exchange module."""

from __future__ import annotations

import json

import pytest

from ansible_collections.mailrelay.smtp.plugins.action.exchange_info import ActionModule as Info
from ansible_collections.mailrelay.smtp.plugins.action.exchange_receive_connector import ActionModule as Receive
from ansible_collections.mailrelay.smtp.tests.fakes.fake_exchange import ANONYMOUS, EVERYONE, FakeExchange
from ansible_collections.mailrelay.smtp.tests.unit.plugins.action._exchange_helpers import Run

RELAY = "ms-Exch-SMTP-Accept-Any-Recipient"


@pytest.fixture
def fake():
    return FakeExchange()


def test_everything_in_one_read(fake):
    relay = fake.add_connector("EX01", "app relay", ranges=["192.0.2.10"])
    fake.grant(relay, ANONYMOUS, RELAY)
    result = Run(fake, Info, {"server": "EX01"}, check_mode=True)
    assert result.modes == ["read"]
    assert result.changing_cmdlets() == []
    info = result.result
    assert info["changed"] is False
    by_identity = {c["identity"]: c for c in info["receive_connectors"]}
    assert by_identity["EX01\\app relay"]["anonymous_relay"] is True
    assert by_identity["EX01\\app relay"]["default_connector"] is False
    assert by_identity["EX01\\Default Frontend EX01"]["default_connector"] is True
    assert by_identity["EX01\\Default Frontend EX01"]["anonymous_relay"] is False
    assert info["accepted_domains"][0]["domain"] == "corp.example"
    assert info["transport_service"]["external_dns_adapter_enabled"] is True
    assert info["send_connectors"] == []


def test_subsets_limit_the_read(fake):
    result = Run(fake, Info, {"gather_subset": ["accepted_domains"]})
    assert set(result.result) >= {"accepted_domains"} and "receive_connectors" not in result.result
    assert result.cmdlets == ["Get-AcceptedDomain"]
    no_permissions = Run(fake, Info, {"server": "EX01", "gather_subset": ["receive_connectors"]})
    assert "Get-ADPermission" not in no_permissions.cmdlets
    assert "permissions" not in no_permissions.result["receive_connectors"][0]


def test_server_is_required_for_server_subsets(fake):
    result = Run(fake, Info, {"gather_subset": ["transport_dns"]})
    assert result.result["failed"] is True and result.result["msg"].startswith("server: required")
    assert result.modes == []


# ---- session handling (same for every module) ----------------------------------------------------

RECEIVE = {"server": "EX01", "name": "mailrelay relay", "remote_ip_ranges": ["10.0.0.11"], "permission_groups": ["AnonymousUsers"], "anonymous_relay": True}


def test_missing_snapin_is_a_clear_message(fake):
    fake.snapin_installed = False
    fake.local_session_delegates = True
    result = Run(fake, Receive, dict(RECEIVE, session="local")).result
    assert result["failed"] is True and result["error_code"] == "snapin_missing"
    assert "session=remote" in result["msg"]


def test_remote_endpoint(fake):
    args = dict(RECEIVE, session="remote", connection_uri="http://ex01.corp.example/PowerShell/")
    created = Run(fake, Receive, args)
    assert created.result["changed"] is True, created.result
    assert created.stub.calls[0]["parameters"]["Session"] == "remote"
    unreachable = Run(fake, Receive, dict(args, connection_uri="http://ex99.corp.example/PowerShell/")).result
    assert unreachable["failed"] is True and unreachable["error_code"] == "endpoint_unreachable"
    assert "connection_uri" in unreachable["msg"] and "ex99.corp.example" in unreachable["msg"]


def test_second_hop_needs_explicit_credentials(fake):
    fake.remote_needs_credential = True
    args = dict(RECEIVE, session="remote", connection_uri="http://ex01.corp.example/PowerShell/")
    denied = Run(fake, Receive, args).result
    assert denied["failed"] is True and denied["error_code"] == "access_denied"
    assert "session_username" in denied["msg"]
    with_credentials = Run(fake, Receive, dict(args, session_username="CORP\\mailadmin", session_password="Adm1n-Pass"))
    assert with_credentials.result["changed"] is True, with_credentials.result
    # The session password travels as a SecureString in both round trips and never in the result.
    assert [call["secrets"] for call in with_credentials.stub.calls] == [{"SessionPassword": "Adm1n-Pass"}] * 2
    assert "Adm1n-Pass" not in json.dumps([call["parameters"] for call in with_credentials.stub.calls])
    assert "Adm1n-Pass" not in json.dumps(with_credentials.result)
    wrong = Run(fake, Receive, dict(args, session_username="CORP\\mailadmin", session_password="nope")).result
    assert wrong["failed"] is True and wrong["error_code"] == "access_denied"


def test_rbac_denied_cmdlets(fake):
    fake.denied_cmdlets = {"Add-ADPermission"}
    # Reading needs no write cmdlet: info still works.
    assert Run(fake, Info, {"server": "EX01"}).result.get("failed") is not True
    result = Run(fake, Receive, RECEIVE).result
    assert result["failed"] is True and result["error_code"] == "access_denied"
    assert "Add-ADPermission" in result["msg"]
    assert not any(c["name"] == "mailrelay relay" for c in fake.receive_connectors)


def test_session_options_are_checked_before_any_call(fake):
    result = Run(fake, Receive, dict(RECEIVE, session="local", connection_uri="http://ex01.corp.example/PowerShell/"))
    assert result.result["failed"] is True and "only used with session=remote" in result.result["msg"]
    assert result.modes == []


def test_relay_audit_view_of_a_stale_connector(fake):
    stale = fake.add_connector("EX01", "legacy relay", ranges=["0.0.0.0-255.255.255.255"])
    fake.grant(stale, EVERYONE, RELAY)
    info = Run(fake, Info, {"server": "EX01", "gather_subset": ["permissions"]}).result
    legacy = next(c for c in info["receive_connectors"] if c["identity"] == "EX01\\legacy relay")
    assert legacy["anonymous_relay"] is True
    assert {"sid": EVERYONE, "user": "Everyone", "right": RELAY, "deny": False, "inherited": False} in legacy["permissions"]


# ---- issue 15, item 1: the default session is the remote endpoint --------------------------------


def test_the_default_session_is_the_remote_endpoint(fake):
    # The snap-in is there but its directory calls would be a second hop (the fake's default).
    run = Run(fake, Receive, dict(RECEIVE, session_username="CORP\\mailadmin", session_password="Adm1n-Pass"))
    assert run.result["changed"] is True, run.result
    assert {call["parameters"]["Session"] for call in run.stub.calls} == {"remote"}
    assert not any("second hop" in warning for warning in run.result.get("warnings", []))


def test_a_local_session_over_winrm_fails_at_the_second_hop_and_says_what_to_do(fake):
    result = Run(fake, Receive, dict(RECEIVE, session="local")).result
    assert result["failed"] is True and result["error_code"] == "directory_unreachable", result
    assert "second hop" in result["msg"] and "session=remote" in result["msg"]
    assert not any(c["name"] == "mailrelay relay" for c in fake.receive_connectors)


def test_a_local_session_warns_even_when_it_works(fake):
    fake.local_session_delegates = True  # CredSSP, delegation or become
    run = Run(fake, Receive, dict(RECEIVE, session="local"))
    assert run.result["changed"] is True, run.result
    assert any("CredSSP" in warning and "session=local" in warning for warning in run.result["warnings"])


def test_a_remote_session_without_credentials_warns_about_the_second_hop(fake):
    run = Run(fake, Info, {"server": "EX01"})
    assert run.result.get("failed") is not True, run.result
    assert any("second hop" in warning and "session_username" in warning for warning in run.result["warnings"])


# ---- issue 15, item 9: apply imports only the cmdlets of the planned operations -------------------


def test_apply_needs_only_the_cmdlets_it_runs(fake):
    # A least-privilege role that may read and create receive connectors, nothing else.
    fake.denied_cmdlets = {"Set-ReceiveConnector", "Remove-ReceiveConnector", "Remove-ADPermission", "New-SendConnector",
                           "Set-SendConnector", "Remove-SendConnector", "Set-TransportService", "New-AcceptedDomain",
                           "Set-AcceptedDomain", "Remove-AcceptedDomain"}
    run = Run(fake, Receive, RECEIVE)
    assert run.result["changed"] is True, run.result
    assert run.changing_cmdlets() == ["New-ReceiveConnector", "Add-ADPermission"]
