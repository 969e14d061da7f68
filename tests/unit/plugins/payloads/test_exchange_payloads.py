# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/payloads/exchange.ps1, checked without PowerShell (tree-sitter grammar).

- it parses, and takes data only as declared parameters (secrets as SecureString);
- no string becomes code and no script block goes to the NoLanguage endpoint;
- ``Mode`` is mandatory and validated; mode read reaches no Set-/New-/Remove-/Add- Exchange
  cmdlet and needs only Get- cmdlets, mode apply runs the operation table;
- which cmdlet and which parameters each operation uses;
- the reader returns every key the controller's decoders read.
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex
from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_domains as domains
from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_receive as receive
from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_send as send
from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_transport as transport
from ansible_collections.mailrelay.smtp.plugins.plugin_utils import _exchange_action, _windows_rpc
from ansible_collections.mailrelay.smtp.tests.fakes.fake_exchange import DOCUMENTED_PARAMETERS, NEEDED_COMMANDS_RULE, payload_contract, write_commands
from ansible_collections.mailrelay.smtp.tests.unit.utils import powershell_syntax as ps

PAYLOAD = _exchange_action.PAYLOAD
# Every operation kind the module_utils plan.
PLANNED_OPERATIONS = {
    "new_receive_connector", "set_receive_connector", "remove_receive_connector", "add_ad_permission", "remove_ad_permission",
    "new_send_connector", "set_send_connector", "remove_send_connector", "set_transport_service",
    "new_accepted_domain", "set_accepted_domain", "remove_accepted_domain",
}
APPLY_ONLY = "$Mode -eq 'apply'"
# Commands with a changing verb that only build or tear down the session, never touch Exchange.
SESSION_PLUMBING = {"New-PSSession", "Remove-PSSession", "Add-PSSnapin", "New-Object"}
WRITE_VERB = re.compile(r"^(Set|New|Remove|Add)-", re.IGNORECASE)


def text():
    return _windows_rpc.load_payload(PAYLOAD)


def tree():
    return ps.parse(text())


def node_text(node):
    return node.text.decode("utf-8")


def functions():
    """{function name: function_statement node}."""
    found = {}
    for node in ps.nodes_of_type(tree(), "function_statement"):
        name = next(child for child in node.children if child.type == "function_name")
        found[node_text(name)] = node
    return found


def _condition(if_node):
    return node_text(next(child for child in if_node.children if child.type == "pipeline"))


def calls(node, skip_apply_only=False):
    """Commands called in ``node`` (not inside nested function definitions), plus the cmdlet named
    by each ``Invoke-Exchange`` call (``<computed>`` when it is not a literal)."""
    names = set()
    stack = list(node.children)
    while stack:
        child = stack.pop()
        if child.type == "function_statement":
            continue
        if skip_apply_only and child.type == "if_statement" and _condition(child) == APPLY_ONLY:
            continue
        if child.type == "command":
            name = node_text(child.child_by_field_name("command_name") or child.children[0])
            names.add(name)
            if name == "Invoke-Exchange":
                argument = next(ps.nodes_of_type_in(child, "array_literal_expression"))
                literal = re.fullmatch(r"'([\w-]+)'", node_text(argument))
                names.add(literal.group(1) if literal else "<computed>")
        stack.extend(child.children)
    return names


def reachable(root, skip_apply_only):
    """Every command reachable from ``root``, following the payload's own functions."""
    defined = functions()
    seen_functions, commands = set(), set()
    pending = [root]
    while pending:
        found = calls(pending.pop(), skip_apply_only)
        commands |= found
        for name in found & set(defined) - seen_functions:
            seen_functions.add(name)
            pending.append(defined[name])
    return commands


def test_payload_parses_without_errors():
    assert ps.syntax_errors(tree()) == []


def test_only_one_exchange_payload_exists():
    assert [name for name in ps.payload_names() if "exchange" in name] == [PAYLOAD]


def test_no_code_from_strings_and_no_script_blocks_sent_to_the_endpoint():
    assert ps.code_from_string_uses(text()) == []
    # The endpoint runs in NoLanguage mode: cmdlets are imported as proxies, never sent as script.
    assert not re.search(r"Invoke-Command|-ScriptBlock|Enter-PSSession", text(), re.IGNORECASE)
    assert "Import-PSSession -Session $RemoteSession -CommandName $NeededCommands" in text()
    assert "-ConfigurationName" not in text() or "ConfigurationName = 'Microsoft.Exchange'" in text()
    # Only Invoke-Exchange runs a command by name, and only this way.
    assert re.findall(r"&\s*\$\w+[^\n]*", text()) == ["& $Command @Arguments"]


def test_parameters_the_plugins_send_are_declared():
    declared = set(ps.declared_parameters(tree()))
    session = set(ex.session_parameters({"session": "local", "session_authentication": "kerberos"}))
    read_scope = {"Server", "ReceiveConnector", "AllReceiveConnectors", "IncludePermissions", "SendConnector",
                  "AllSendConnectors", "TransportService", "AcceptedDomains", "Principals"}
    assert session | read_scope | {ex.SESSION_PASSWORD_PARAMETER, send.PASSWORD_PARAMETER, "Mode", "Operations"} == declared


def test_mode_is_mandatory_and_validated():
    contract = payload_contract(PAYLOAD)
    assert contract["mandatory"] == ["Mode"]
    assert contract["choices"]["Mode"] == ["read", "apply"]


def test_secrets_are_secure_strings():
    assert sorted(payload_contract(PAYLOAD)["secure"]) == ["SessionPassword", "SmartHostPassword"]


def test_read_runs_in_check_mode_and_apply_refuses_it():
    assert text().count("[CmdletBinding(SupportsShouldProcess)]") == 1
    assert re.search(r"if \(\$Mode -eq 'apply' -and \$Ansible\.CheckMode\) \{\s+Stop-Payload 'bad_operation'", text())
    assert re.search(r"if \(\$Mode -eq 'read' -and @\(\$Operations\)\.Count -gt 0\) \{\s+Stop-Payload 'bad_operation'", text())
    assert "$Ansible.Changed = $Mode -eq 'apply' -and @($Operations).Count -gt 0" in text()


def test_mode_read_reaches_no_changing_exchange_cmdlet():
    commands = reachable(tree().root_node, skip_apply_only=True)
    assert "Invoke-Operation" not in commands and "<computed>" not in commands
    exchange = {name for name in commands if name in DOCUMENTED_PARAMETERS}
    assert exchange == set(payload_contract(PAYLOAD)["read_commands"])
    assert all(name.startswith("Get-") for name in exchange)
    assert {name for name in commands if WRITE_VERB.match(name)} <= SESSION_PLUMBING


def test_mode_apply_runs_the_operation_table_then_the_same_read():
    apply_blocks = [node for node in ps.nodes_of_type(tree(), "if_statement") if _condition(node) == APPLY_ONLY]
    assert len(apply_blocks) == 2  # the cmdlets to import, and the operations
    assert NEEDED_COMMANDS_RULE in node_text(apply_blocks[0]) or NEEDED_COMMANDS_RULE in node_text(apply_blocks[1])
    applied = set().union(*(reachable(node, skip_apply_only=False) for node in apply_blocks))
    assert "Invoke-Operation" in applied and "<computed>" in applied
    # The computed cmdlet comes from the fixed table, nowhere else.
    assert "Invoke-Exchange $spec.Cmdlet $arguments" in node_text(functions()["Invoke-Operation"])
    assert "$spec = $OperationTable[$kind]" in node_text(functions()["Invoke-Operation"])


def test_read_needs_only_get_cmdlets_and_apply_adds_those_of_the_planned_operations():
    contract = payload_contract(PAYLOAD)
    assert contract["read_commands"] and all(name.startswith("Get-") for name in contract["read_commands"])
    assert contract["imports_planned_cmdlets"]
    assert write_commands(contract, [{"op": "new_accepted_domain"}, {"op": "set_accepted_domain"}, {"op": "nonsense"}]) == [
        "New-AcceptedDomain", "Set-AcceptedDomain"]


def test_unknown_operations_are_refused_before_a_session_opens():
    check = text().index("foreach ($operation in @($Operations)) {\n    if (-not $OperationTable.ContainsKey([string]$operation.op))")
    assert check < text().index("$RemoteSession = $null")


def test_the_remote_session_is_closed_even_in_check_mode():
    # The read runs with -WhatIf in check mode; Remove-PSSession honours it, so it must opt out.
    closes = re.findall(r"Remove-PSSession[^\n]*", text())
    assert len(closes) == 3
    assert all(line.endswith("-WhatIf:$false") for line in closes)
    assert re.search(r"finally \{\s+if \(\$null -ne \$RemoteSession\) \{\s+Remove-PSSession", text())


def test_planned_operations_are_the_ones_module_utils_emit():
    emitted = set()
    for module in (ex,) + tuple(importlib.import_module(ex.__name__ + suffix) for suffix in ("_receive", "_send", "_transport", "_domains")):
        with open(module.__file__, encoding="utf-8") as handle:
            emitted |= set(re.findall(r'"((?:new|set|remove|add)_(?:receive_connector|send_connector|ad_permission|transport_service|accepted_domain))"',
                                      handle.read()))
    assert emitted == PLANNED_OPERATIONS


def test_operation_table_covers_every_planned_operation_with_documented_parameters():
    contract = payload_contract(PAYLOAD)
    table = contract["operations"]
    assert set(table) == PLANNED_OPERATIONS
    for kind, spec in table.items():
        cmdlet = spec["cmdlet"]
        assert write_commands(contract, [{"op": kind}]) == [cmdlet], kind
        documented = DOCUMENTED_PARAMETERS[cmdlet]
        extra = set(spec["parameters"]) - documented
        assert not extra, "%s passes undocumented parameters %s to %s" % (kind, extra, cmdlet)
        if spec["target"] or spec["confirm"]:
            assert "Identity" in documented and "Confirm" in documented
        if spec["credential"]:
            assert "AuthenticationCredential" in documented


def test_each_operation_uses_one_cmdlet_and_its_parameters():
    table = payload_contract(PAYLOAD)["operations"]
    assert {kind: (spec["cmdlet"], set(spec["parameters"])) for kind, spec in table.items()} == {
        "new_receive_connector": ("New-ReceiveConnector", {"Name", "Server", "TransportRole", "Custom", "Bindings", "RemoteIPRanges",
                                                           "PermissionGroups", "AuthMechanism", "RequireTLS", "Fqdn", "MaxMessageSize",
                                                           "Enabled"}),
        "set_receive_connector": ("Set-ReceiveConnector", {"Identity", "Bindings", "RemoteIPRanges", "PermissionGroups", "AuthMechanism",
                                                           "RequireTLS", "Fqdn", "MaxMessageSize", "Enabled"}),
        "remove_receive_connector": ("Remove-ReceiveConnector", {"Identity"}),
        "add_ad_permission": ("Add-ADPermission", {"User", "ExtendedRights", "Deny"}),
        "remove_ad_permission": ("Remove-ADPermission", {"User", "ExtendedRights", "Deny"}),
        "new_send_connector": ("New-SendConnector", {"Name", "Usage", "AddressSpaces", "DNSRoutingEnabled", "SmartHosts", "Port", "RequireTLS",
                                                     "IgnoreSTARTTLS", "TlsAuthLevel", "TlsDomain", "SmartHostAuthMechanism",
                                                     "UseExternalDNSServersEnabled", "SourceTransportServers", "MaxMessageSize", "Fqdn",
                                                     "Enabled"}),
        "set_send_connector": ("Set-SendConnector", {"Identity", "AddressSpaces", "DNSRoutingEnabled", "SmartHosts", "Port", "RequireTLS",
                                                     "IgnoreSTARTTLS", "TlsAuthLevel", "TlsDomain", "SmartHostAuthMechanism",
                                                     "UseExternalDNSServersEnabled", "SourceTransportServers", "MaxMessageSize", "Fqdn",
                                                     "Enabled"}),
        "remove_send_connector": ("Remove-SendConnector", {"Identity"}),
        "set_transport_service": ("Set-TransportService", {"Identity", "ExternalDNSServers", "ExternalDNSAdapterEnabled",
                                                           "ExternalDNSProtocolOption", "InternalDNSServers", "InternalDNSAdapterEnabled",
                                                           "InternalDNSProtocolOption"}),
        "new_accepted_domain": ("New-AcceptedDomain", {"Name", "DomainName", "DomainType"}),
        "set_accepted_domain": ("Set-AcceptedDomain", {"Identity", "DomainType", "MatchSubDomains", "MakeDefault"}),
        "remove_accepted_domain": ("Remove-AcceptedDomain", {"Identity"}),
    }
    # Permissions always go to the connector's DN (never a name); removals and permission changes
    # never prompt; only send connectors take the smart host credential.
    assert {kind for kind, spec in table.items() if spec["target"]} == {"add_ad_permission", "remove_ad_permission"}
    assert {kind for kind, spec in table.items() if spec["confirm"]} == {kind for kind in table if kind.startswith("remove_")} | {"add_ad_permission"}
    assert {kind for kind, spec in table.items() if spec["credential"]} == {"new_send_connector", "set_send_connector"}


def test_objects_are_selected_by_exact_name():
    select = node_text(functions()["Select-ByName"])
    assert "Where-Object { [string]$_.Name -eq $Name }" in select
    read = text()[text().index("#region read"):text().index("#endregion", text().index("#region read"))]
    assert not re.search(r"-like|-match|\*", read)


def _keys_read(function, variable):
    return set(re.findall(r'%s\.get\("(\w+)"' % variable, inspect.getsource(function)))


@pytest.mark.parametrize("view, decoder, variable, added_by_the_reader", [
    ("ReceiveConnector", receive.decode_connector, "raw", {"permissions"}),
    ("Permission", receive.decode_permissions, "entry", {"sid"}),
    ("SendConnector", send.decode_connector, "raw", {"username", "username_readable"}),
    ("AcceptedDomain", domains.decode, "raw", set()),
])
def test_the_reader_returns_every_key_the_controller_decodes(view, decoder, variable, added_by_the_reader):
    views = payload_contract(PAYLOAD)["views"]
    returned = {key for fields in views[view].values() for key in fields} | added_by_the_reader
    assert _keys_read(decoder, variable) <= returned


def test_the_transport_view_has_both_sides():
    fields = payload_contract(PAYLOAD)["views"]["TransportService"]
    returned = {key for kind in fields.values() for key in kind}
    suffixes = re.findall(r'prefix\.lower\(\) \+ "(\w+)"', inspect.getsource(transport.decode))
    assert suffixes and {side + suffix for side in ("external", "internal") for suffix in suffixes} | {"identity"} <= returned


def test_failures_carry_the_codes_the_plugins_translate():
    codes = set(re.findall(r"Stop-Payload '(\w+)'", text())) | set(re.findall(r"return '(\w+)'", text()))
    assert codes == {"snapin_missing", "endpoint_unreachable", "access_denied", "directory_unreachable", "not_found", "exchange_error",
                     "bad_operation"}
    for code in codes:
        assert ex.error_message(PAYLOAD, code, "x") != "%s failed on the host: x" % PAYLOAD
