# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fake Exchange keeps the documented contracts the modules rely on (so their tests mean something)."""

from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.tests.fakes.fake_exchange import ANONYMOUS, Credential, ExchangeError, FakeExchange
from ansible_collections.mailrelay.smtp.tests.unit.utils.windows_action import PayloadFailure

RELAY = "ms-Exch-SMTP-Accept-Any-Recipient"


@pytest.fixture
def fake():
    return FakeExchange(servers=("EX01", "EX02"))


def new_connector(fake, **extra):
    arguments = dict(Name="relay", Server="EX01", TransportRole="FrontendTransport", Custom=True, Bindings=["0.0.0.0:25"],
                     RemoteIPRanges=["192.0.2.10"], PermissionGroups="AnonymousUsers")
    arguments.update(extra)
    return fake.invoke("New-ReceiveConnector", **arguments)


def test_undocumented_parameters_are_rejected(fake):
    with pytest.raises(ExchangeError, match="A parameter cannot be found that matches parameter name 'Usage'"):
        fake.invoke("Set-ReceiveConnector", Identity="EX01\\Default EX01", Usage="Custom")


def test_a_usage_type_is_required_to_create(fake):
    with pytest.raises(ExchangeError, match="usage type"):
        new_connector(fake, Custom=False)


def test_removals_prompt_unless_confirm_is_false(fake):
    new_connector(fake)
    with pytest.raises(ExchangeError, match="does not support user interaction"):
        fake.invoke("Remove-ReceiveConnector", Identity="EX01\\relay")
    fake.invoke("Remove-ReceiveConnector", Identity="EX01\\relay", Confirm=False)


def test_permission_groups_write_their_entries_and_take_them_back(fake):
    dn = new_connector(fake)["DistinguishedName"]
    connector = fake.connector("EX01", "relay")
    assert (ANONYMOUS, "ms-Exch-SMTP-Submit", False) in fake.explicit_aces(connector)
    fake.invoke("Set-ReceiveConnector", Identity="EX01\\relay", PermissionGroups="ExchangeUsers")
    assert not [ace for ace in fake.explicit_aces(connector) if ace[0] == ANONYMOUS]
    entries = fake.invoke("Get-ADPermission", Identity=dn)
    assert any(entry["IsInherited"] for entry in entries)


def test_localized_directory(fake):
    german = FakeExchange(locale="de")
    dn = new_connector(german)["DistinguishedName"]
    with pytest.raises(ExchangeError, match="couldn't be found"):
        german.invoke("Add-ADPermission", Identity=dn, User="NT AUTHORITY\\ANONYMOUS LOGON", ExtendedRights=[RELAY])
    german.invoke("Add-ADPermission", Identity=dn, User="NT-AUTORITÄT\\ANONYMOUS-ANMELDUNG", ExtendedRights=[RELAY])
    german.invoke("Add-ADPermission", Identity=dn, User=ANONYMOUS, ExtendedRights=["ms-Exch-Bypass-Anti-Spam"])
    users = {str(entry["User"]) for entry in german.invoke("Get-ADPermission", Identity=dn) if entry["User"].sid == ANONYMOUS}
    assert users == {"NT-AUTORITÄT\\ANONYMOUS-ANMELDUNG"}


def test_ad_permissions_need_an_exact_object(fake):
    new_connector(fake)
    new_connector(fake, Server="EX02")
    with pytest.raises(ExchangeError, match="matches multiple entries"):
        fake.invoke("Get-ADPermission", Identity="relay")
    with pytest.raises(ExchangeError, match="couldn't be found"):
        fake.invoke("Get-ADPermission", Identity="EX01\\relay")


def test_inherited_entries_cannot_be_removed_and_unknown_rights_are_refused(fake):
    dn = new_connector(fake)["DistinguishedName"]
    fake.grant(fake.connector("EX01", "relay"), "S-1-5-11", RELAY, inherited=True)
    with pytest.raises(ExchangeError, match="inherited"):
        fake.invoke("Remove-ADPermission", Identity=dn, User="S-1-5-11", ExtendedRights=[RELAY], Confirm=False)
    with pytest.raises(ExchangeError, match="extended right"):
        fake.invoke("Add-ADPermission", Identity=dn, User=ANONYMOUS, ExtendedRights=["ms-Exch-Open-Relay"])


def test_the_payload_contract_is_enforced(fake):
    with pytest.raises(AssertionError, match="does not declare"):
        fake.handle("exchange", {"Mode": "read", "Session": "local", "Bogus": 1}, {})
    with pytest.raises(AssertionError, match="passed as a plain parameter"):
        fake.handle("exchange", {"Mode": "read", "Session": "local", "SessionPassword": "x"}, {})
    with pytest.raises(PayloadFailure, match="bad_operation: set_receive_connector may not set Banner"):
        operation = {"op": "set_receive_connector", "parameters": {"Identity": "EX01\\relay", "Banner": "x"}}
        fake.handle("exchange", {"Mode": "apply", "Operations": [operation]}, {})
    with pytest.raises(PayloadFailure, match="bad_operation: unknown operation"):
        fake.handle("exchange", {"Mode": "apply", "Operations": [{"op": "invoke_anything", "parameters": {}}]}, {})


def test_mode_is_mandatory_and_validated(fake):
    with pytest.raises(PayloadFailure, match="missing mandatory parameters: Mode"):
        fake.handle("exchange", {"AcceptedDomains": True}, {})
    with pytest.raises(PayloadFailure, match="parameter 'Mode'.*does not belong to the set \"read,apply\""):
        fake.handle("exchange", {"Mode": "write", "AcceptedDomains": True}, {})
    with pytest.raises(PayloadFailure, match="parameter 'Session'"):
        fake.handle("exchange", {"Mode": "read", "Session": "elsewhere"}, {})


def test_a_read_runs_no_operation_and_needs_no_write_cmdlet(fake):
    operation = {"op": "remove_accepted_domain", "parameters": {"Identity": "corp.example"}}
    with pytest.raises(PayloadFailure, match="bad_operation: operations are only run in mode apply"):
        fake.handle("exchange", {"Mode": "read", "Operations": [operation]}, {})
    fake.denied_cmdlets = {"Remove-AcceptedDomain"}
    document = fake.handle("exchange", {"Mode": "read", "AcceptedDomains": True}, {})
    assert [d["domain_name"] for d in document["accepted_domains"]] == ["corp.example"]
    assert fake.cmdlets_called() == ["Get-AcceptedDomain"]
    # Apply imports the cmdlets of its operations only: an apply without them needs none.
    fake.handle("exchange", {"Mode": "apply", "AcceptedDomains": True, "Operations": []}, {})
    with pytest.raises(PayloadFailure, match="access_denied: this account may not run Remove-AcceptedDomain"):
        fake.handle("exchange", {"Mode": "apply", "AcceptedDomains": True, "Operations": [operation]}, {})


def test_the_read_uses_the_payloads_property_views(fake):
    relay = new_connector(fake)
    document = fake.handle("exchange", {"Mode": "read", "Server": "EX01", "ReceiveConnector": "RELAY"}, {})
    (connector,) = document["receive_connectors"]
    assert connector["identity"] == "EX01\\relay" and connector["distinguished_name"] == relay["DistinguishedName"]
    assert connector["remote_ip_ranges"] == ["192.0.2.10"] and connector["permission_groups"] == "AnonymousUsers, Custom"
    assert {p["sid"] for p in connector["permissions"]} >= {ANONYMOUS}
    assert all(p["extended_rights"] for p in connector["permissions"])  # the GenericAll entry is skipped


def test_a_local_session_fails_at_the_second_hop_unless_delegated(fake):
    """Issue 15: the snap-in over WinRM reaches Active Directory only with CredSSP, delegation or become."""
    with pytest.raises(PayloadFailure, match="MAILRELAY:directory_unreachable: Active Directory operation failed"):
        fake.handle("exchange", {"Mode": "read", "Session": "local", "AcceptedDomains": True}, {})
    fake.local_session_delegates = True
    assert fake.handle("exchange", {"Mode": "read", "Session": "local", "AcceptedDomains": True}, {})["accepted_domains"]


def test_the_remote_session_may_not_return_the_credentials_user_name(fake):
    """Issue 15: deserialized through Import-PSSession, the credential arrives without UserName."""
    fake.invoke("New-SendConnector", Name="out", AddressSpaces=["*"], SmartHosts=["192.0.2.25"], DNSRoutingEnabled=False,
                SmartHostAuthMechanism="BasicAuth", AuthenticationCredential=Credential("corp-relay", "pw"))
    remote = fake.handle("exchange", {"Mode": "read", "Session": "remote", "SendConnector": "out"}, {})["send_connectors"][0]
    assert (remote["username"], remote["username_readable"]) == (None, False)
    fake.local_session_delegates = True
    local = fake.handle("exchange", {"Mode": "read", "Session": "local", "SendConnector": "out"}, {})["send_connectors"][0]
    assert (local["username"], local["username_readable"]) == ("corp-relay", True)
