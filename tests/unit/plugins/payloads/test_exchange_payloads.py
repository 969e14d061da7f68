# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Exchange payloads: they parse, take data only as parameters, and call only documented cmdlets."""

from __future__ import annotations

import importlib
import re

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex
from ansible_collections.mailrelay.smtp.plugins.plugin_utils import _windows_rpc
from ansible_collections.mailrelay.smtp.tests.fakes.fake_exchange import DOCUMENTED_PARAMETERS, payload_contract
from ansible_collections.mailrelay.smtp.tests.unit.utils import powershell_syntax as ps

PAYLOADS = ("exchange_read", "exchange_apply")
# Every operation kind the module_utils plan.
PLANNED_OPERATIONS = {
    "new_receive_connector", "set_receive_connector", "remove_receive_connector", "add_ad_permission", "remove_ad_permission",
    "new_send_connector", "set_send_connector", "remove_send_connector", "set_transport_service",
    "new_accepted_domain", "set_accepted_domain", "remove_accepted_domain",
}


def text_of(name):
    return _windows_rpc.load_payload(name)


@pytest.mark.parametrize("name", PAYLOADS)
def test_payload_parses_without_errors(name):
    assert ps.syntax_errors(ps.parse(text_of(name))) == []


@pytest.mark.parametrize("name", PAYLOADS)
def test_no_code_from_strings_and_no_script_blocks_sent_to_the_endpoint(name):
    text = text_of(name)
    assert ps.code_from_string_uses(text) == []
    # The endpoint runs in NoLanguage mode: cmdlets are imported as proxies, never sent as script.
    assert not re.search(r"Invoke-Command|-ScriptBlock|Enter-PSSession", text, re.IGNORECASE)
    assert "Import-PSSession -Session $RemoteSession -CommandName $NeededCommands" in text
    assert "-ConfigurationName" not in text or "ConfigurationName = 'Microsoft.Exchange'" in text


@pytest.mark.parametrize("name", PAYLOADS)
def test_parameters_the_plugins_send_are_declared(name):
    declared = set(ps.declared_parameters(ps.parse(text_of(name))))
    session = set(ex.session_parameters({"session": "local", "session_authentication": "kerberos"}))
    read_scope = {"Server", "ReceiveConnector", "AllReceiveConnectors", "IncludePermissions", "SendConnector",
                  "AllSendConnectors", "TransportService", "AcceptedDomains", "Principals"}
    assert session | read_scope | {ex.SESSION_PASSWORD_PARAMETER} <= declared
    if name == "exchange_apply":
        assert {"Operations", "SmartHostPassword"} <= declared


@pytest.mark.parametrize("name", PAYLOADS)
def test_secrets_are_secure_strings(name):
    contract = payload_contract(name)
    assert "SessionPassword" in contract["secure"]
    assert set(contract["secure"]) <= {"SessionPassword", "SmartHostPassword"}


def test_only_the_read_payload_runs_in_check_mode():
    assert "[CmdletBinding(SupportsShouldProcess)]" in text_of("exchange_read")
    assert "SupportsShouldProcess" not in text_of("exchange_apply")


@pytest.mark.parametrize("name", PAYLOADS)
def test_the_remote_session_is_closed_even_in_check_mode(name):
    # The read payload runs with -WhatIf in check mode; Remove-PSSession honours it, so it must opt out.
    closes = re.findall(r"Remove-PSSession[^\n]*", text_of(name))
    assert len(closes) == 3
    assert all(line.endswith("-WhatIf:$false") for line in closes)
    assert re.search(r"finally \{\s+if \(\$null -ne \$RemoteSession\) \{\s+Remove-PSSession", text_of(name))


def test_read_needs_only_get_cmdlets():
    needed = payload_contract("exchange_read")["needed"]
    assert needed and all(name.startswith("Get-") for name in needed)


def _region(text, title):
    start = text.index("#region " + title)
    return text[start:text.index("#endregion", start)]


@pytest.mark.parametrize("title", ["shared session", "shared read"])
def test_shared_regions_are_identical(title):
    assert _region(text_of("exchange_read"), title) == _region(text_of("exchange_apply"), title)


def test_planned_operations_are_the_ones_module_utils_emit():
    emitted = set()
    for module in (ex,) + tuple(importlib.import_module(ex.__name__ + suffix) for suffix in ("_receive", "_send", "_transport", "_domains")):
        with open(module.__file__, encoding="utf-8") as handle:
            emitted |= set(re.findall(r'"((?:new|set|remove|add)_(?:receive_connector|send_connector|ad_permission|transport_service|accepted_domain))"',
                                      handle.read()))
    assert emitted == PLANNED_OPERATIONS


def test_operation_table_covers_every_planned_operation_with_documented_parameters():
    contract = payload_contract("exchange_apply")
    table = contract["operations"]
    assert set(table) == PLANNED_OPERATIONS
    for kind, spec in table.items():
        cmdlet = spec["cmdlet"]
        assert cmdlet in contract["needed"], kind
        documented = DOCUMENTED_PARAMETERS[cmdlet]
        extra = set(spec["parameters"]) - documented
        assert not extra, "%s passes undocumented parameters %s to %s" % (kind, extra, cmdlet)
        if spec["target"] or spec["confirm"]:
            assert "Identity" in documented and "Confirm" in documented
        if spec["credential"]:
            assert "AuthenticationCredential" in documented


def test_each_operation_uses_one_cmdlet_family():
    table = payload_contract("exchange_apply")["operations"]
    assert {kind: spec["cmdlet"] for kind, spec in table.items()} == {
        "new_receive_connector": "New-ReceiveConnector",
        "set_receive_connector": "Set-ReceiveConnector",
        "remove_receive_connector": "Remove-ReceiveConnector",
        "add_ad_permission": "Add-ADPermission",
        "remove_ad_permission": "Remove-ADPermission",
        "new_send_connector": "New-SendConnector",
        "set_send_connector": "Set-SendConnector",
        "remove_send_connector": "Remove-SendConnector",
        "set_transport_service": "Set-TransportService",
        "new_accepted_domain": "New-AcceptedDomain",
        "set_accepted_domain": "Set-AcceptedDomain",
        "remove_accepted_domain": "Remove-AcceptedDomain",
    }
    # Permissions always go to the connector's DN, removals never prompt.
    assert table["add_ad_permission"]["target"] and table["remove_ad_permission"]["target"]
    assert all(spec["confirm"] for kind, spec in table.items() if kind.startswith("remove_"))


def test_receive_connector_read_is_exact():
    text = text_of("exchange_read")
    assert "Where-Object { [string]$_.Name -eq $ReceiveConnector }" in text
    assert "Where-Object { [string]$_.Name -eq $SendConnector }" in text
    assert not re.search(r"-like|-match \$", text.split("#region shared read")[1])


@pytest.mark.parametrize("name", PAYLOADS)
def test_failures_carry_the_codes_the_plugins_translate(name):
    codes = set(re.findall(r"Stop-Payload '(\w+)'", text_of(name))) | set(re.findall(r"return '(\w+)'", text_of(name)))
    assert codes <= {"snapin_missing", "endpoint_unreachable", "access_denied", "not_found", "exchange_error", "bad_operation"}
    assert {"snapin_missing", "endpoint_unreachable", "access_denied", "not_found"} <= codes
    for code in codes:
        assert ex.error_message(name, code, "x") != "%s failed on the host: x" % name
