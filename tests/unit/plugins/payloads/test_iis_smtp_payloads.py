# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The IIS SMTP PowerShell payload (plugins/payloads/iis_smtp.ps1), checked without PowerShell (tree-sitter grammar).

- it parses without errors;
- data arrives only through declared parameters, no string becomes code, and
  every string literal is a fixed name or message (nothing host-specific);
- ``Mode`` is mandatory and only ``read`` or ``apply``; one reader serves both
  modes; mode ``read`` reaches no code that writes; mode ``apply`` runs its
  operations only after ``ShouldProcess`` and reads the state after them;
- which ADSI/WMI properties each operation writes, read from the script itself;
- the operations and property types the controller emits are the ones the
  payload handles.
"""

from __future__ import annotations

import re

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _metabase, _metabase_domain, _metabase_server
from ansible_collections.mailrelay.smtp.plugins.plugin_utils import _windows_rpc
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._iis_smtp_action import PAYLOAD
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._windows_resource import APPLY, READ
from ansible_collections.mailrelay.smtp.tests.fakes import fake_metabase
from ansible_collections.mailrelay.smtp.tests.unit.utils import powershell_syntax as ps
from ansible_collections.mailrelay.smtp.tests.unit.utils.iis_smtp_action import read_state


def text():
    return _windows_rpc.load_payload(PAYLOAD)


def tree():
    return ps.parse(text())


def _function_nodes():
    for node in ps.nodes_of_type(tree(), "function_statement"):
        body = node.text.decode("utf-8")
        yield re.match(r"function\s+([\w-]+)", body).group(1), body


def functions():
    """{function name: body text} of the payload's function definitions."""
    return dict(_function_nodes())


def commands_in(source):
    return {node.text.decode("utf-8") for node in ps.nodes_of_type(ps.parse(source), "command_name")}


def reached_from(source):
    """Every payload function that ``source`` calls, directly or through other functions."""
    table = functions()
    seen, pending = set(), list(commands_in(source))
    while pending:
        function = pending.pop()
        if function in seen or function not in table:
            continue
        seen.add(function)
        pending.extend(commands_in(table[function]) - seen)
    return seen


def top_level_statements():
    program = tree().root_node
    return [node for child in program.children if child.type == "statement_list" for node in child.children]


def mode_branch():
    """The top-level ``if ($Mode -eq 'apply') {...}`` and its first block (the code only mode apply runs)."""
    wanted = "$Mode -eq '%s'" % APPLY
    found = [node for node in top_level_statements()
             if node.type == "if_statement" and node.child_by_field_name("condition").text.decode("utf-8") == wanted]
    assert len(found) == 1
    block = [child for child in found[0].children if child.type == "statement_block"][0]
    return found[0], block


def inside(node, outer):
    return outer.start_byte <= node.start_byte and node.end_byte <= outer.end_byte


def read_mode_code():
    """The top-level code mode read runs: everything but function definitions and the apply block."""
    dummy, apply_block = mode_branch()
    pieces = []
    for node in top_level_statements():
        if node.type == "function_statement":
            continue
        if inside(apply_block, node):
            pieces.extend(child.text.decode("utf-8") for child in node.children if child.type in ("elseif_clauses", "else_clause"))
        else:
            pieces.append(node.text.decode("utf-8"))
    return "\n".join(pieces)


def operation_clauses():
    """{operation: its clause node of the main switch}."""
    clauses = {}
    for node in ps.nodes_of_type(tree(), "switch_clause"):
        label = node.children[0].text.decode("utf-8").strip("'\"")
        if label in _known_operations():
            clauses[label] = node
    return clauses


def dispatch():
    """{operation: set of functions its clause of the main switch calls}."""
    return {label: commands_in(node.text.decode("utf-8")) for label, node in operation_clauses().items()}


def _known_operations():
    match = re.search(r"\$KnownOperations = @\(([^)]*)\)", text())
    return [item.strip().strip("'") for item in match.group(1).split(",")]


ADSI_WRITE = re.compile(r"Properties\[([^\]]+)\]\.(?:Value\s*=(?!=)|Clear\(\))")
IPSEC_WRITE = re.compile(r"InvokeMember\('(\w+)',\s*\$set\b")
WMI_WRITE = re.compile(r"SetPropertyValue\(([^,]+),")


def writes(function_text):
    found = {("adsi", match) for match in ADSI_WRITE.findall(function_text)}
    found |= {("IIsIPSecurity", match) for match in IPSEC_WRITE.findall(function_text)}
    found |= {("wmi IIsSmtpServerSetting", match.strip()) for match in WMI_WRITE.findall(function_text)}
    return found


def writes_of_operation(operation):
    """Every write reachable from the operation's switch clause (following function calls)."""
    table = functions()
    result = set()
    for function in reached_from(operation_clauses()[operation].text.decode("utf-8")):
        result |= writes(table[function])
    return result


# ---- syntax and data flow ---------------------------------------------------------------------
def test_one_payload_serves_every_iis_resource():
    assert [name for name in ps.payload_names() if name.startswith("iis_smtp")] == [PAYLOAD]


def test_parses_without_errors():
    assert ps.syntax_errors(tree()) == []


def test_no_string_becomes_code():
    assert ps.code_from_string_uses(text()) == []


def test_declared_parameters_are_what_the_controller_sends():
    declared = ps.declared_parameters(tree())
    assert sorted(declared) == sorted(list(_metabase.read_parameters()) + ["Mode", "Operations", "Secrets"])
    assert list(_metabase.secrets_parameter({"k": "v"})) == ["Secrets"]
    assert re.search(r"\[SecureString\]\$Secrets", text())


def test_mode_is_mandatory_and_only_read_or_apply():
    match = re.search(r"\[Parameter\(Mandatory\)\]\s*\[ValidateSet\(([^)]*)\)\]\s*\[string\]\$Mode\b", text())
    assert match, "Mode is not declared [Parameter(Mandatory)] [ValidateSet(...)] [string]"
    assert sorted(item.strip().strip("'") for item in match.group(1).split(",")) == sorted([READ, APPLY])


def test_runs_in_check_mode():
    # win_powershell skips a script without it in check mode; mode read must run there.
    assert text().index("[CmdletBinding(SupportsShouldProcess)]") < text().index("param(")


# Every string literal in the payloads: fixed names and messages, nothing that could be user data.
FIXED_STRINGS = {
    "IIS://localhost/SMTPSVC", "IIS://localhost/SMTPSVC/", "/Domain", "root\\MicrosoftIISv2", "IIsSmtpServerSetting",
    "IIsSmtpServer", "IIsSmtpDomain", "SMTPSVC", "SmtpSvc/", "Running", "Public, Instance, GetProperty",
    "Public, Instance, SetProperty", "GrantByDefault", "IPGrant", "IPDeny", "ServerComment", "ServerBindings",
    "ServerState", "Start", "Stop", "adsi", "wmi", "*", "", ":", "MAILRELAY:*", "^[A-Za-z0-9]+$",
    "^[A-Za-z0-9*][A-Za-z0-9.*-]*$", "DWORD", "BOOL", "STRING", "MULTISZ", "BINARY", "IPSECURITY", "SECRET",
    "create_server", "delete_server", "start_server", "stop_server", "create_domain", "delete_domain",
    "set_property", "set_secret", "read", "apply", "IIS SMTP metabase", "apply operations",
    "IIsIPSecuritySetting", "ServerCommand", "Path", "Domain", "^[A-Za-z]+$", "^IIs[A-Za-z]+$",
}


def test_string_literals_are_fixed_names_or_messages():
    unexpected = []
    for node in ps.nodes_of_type(tree(), "string_literal"):
        literal = node.text.decode("utf-8")
        value = literal[1:-1]
        if value in FIXED_STRINGS or value.startswith("MAILRELAY:"):
            continue
        unexpected.append(literal)
    assert unexpected == []


# ---- the two modes -----------------------------------------------------------------------------
WRITE_VERBS = ("CommitChanges", ".Put(", "SetInfo", "Children.Add", "Children.Remove", ".Invoke(", "SetPropertyValue")


def test_one_reader_serves_both_modes():
    names = [name for name, dummy in _function_nodes()]
    assert len(names) == len(set(names)), "a function is defined twice"
    mode_if, dummy = mode_branch()
    calls = [node for node in ps.nodes_of_type(tree(), "command") if node.text.decode("utf-8").startswith("Read-State ")]
    assert len(calls) == 1
    # After the apply branch and outside it: mode apply returns the state after its operations.
    assert calls[0].start_byte > mode_if.end_byte


def test_mode_read_writes_nothing():
    code = read_mode_code()
    reached = reached_from(code)
    assert {"Read-State", "Read-AdsiValue", "Read-WmiValue", "Read-Domains"} <= reached
    for source in [code] + [functions()[name] for name in sorted(reached)]:
        assert writes(source) == set(), source[:80]
        assert [verb for verb in WRITE_VERBS if verb in source] == [], source[:80]


def test_mode_apply_runs_operations_only_after_should_process():
    dummy, apply_block = mode_branch()
    clauses = operation_clauses()
    assert clauses and all(inside(clause, apply_block) for clause in clauses.values())
    block = apply_block.text.decode("utf-8")
    # -WhatIf (check mode) stops the apply before the first operation.
    assert block.index("$PSCmdlet.ShouldProcess(") < block.index("switch (")
    assert "throw 'MAILRELAY:check_mode:" in block


# ---- what each operation writes -------------------------------------------------------------------
EXPECTED_WRITES = {
    # The server key, then its child keys (the ROOT virtual directory's Path).
    "create_server": {("adsi", "'ServerComment'"), ("adsi", "'ServerBindings'"), ("adsi", "'Path'")},
    "delete_server": set(),
    # ServerCommand first, the ADSI method as the fallback (issue 15, item 5).
    "start_server": {("adsi", "'ServerCommand'")},
    "stop_server": {("adsi", "'ServerCommand'")},
    # The Domain container when it is missing (it has no Path; Add-ChildKey is shared with create_server).
    "create_domain": {("adsi", "'Path'")},
    "delete_domain": set(),
    # The property the operation names ($name), through whichever interface its type needs; IPSecurity
    # through WMI's IIsIPSecuritySetting when ADSI has no object (issue 15, item 7).
    "set_property": {("adsi", "$name"), ("IIsIPSecurity", "GrantByDefault"), ("IIsIPSecurity", "IPGrant"),
                     ("IIsIPSecurity", "IPDeny"), ("wmi IIsSmtpServerSetting", "$name"), ("wmi IIsSmtpServerSetting", "'GrantByDefault'"),
                     ("wmi IIsSmtpServerSetting", "'IPGrant'"), ("wmi IIsSmtpServerSetting", "'IPDeny'")},
    "set_secret": {("adsi", "$name")},
}


def test_every_operation_has_one_clause():
    assert sorted(dispatch()) == sorted(_known_operations()) == sorted(EXPECTED_WRITES)
    assert sorted(_known_operations()) == sorted(fake_metabase.OPERATIONS)


@pytest.mark.parametrize("operation", sorted(EXPECTED_WRITES))
def test_properties_each_operation_writes(operation):
    assert writes_of_operation(operation) == EXPECTED_WRITES[operation]


def test_written_name_is_the_operations_checked_name():
    for function, body in functions().items():
        if any(target == "$name" for dummy, target in writes(body)):
            assert "$name = Assert-PropertyName -Name $Operation.name" in body, function


def test_ipsecurity_members_are_written_through_the_object_and_committed():
    body = functions()["Set-AdsiIPSecurity"]
    assert body.count("CommitChanges()") == 2
    assert body.index("'GrantByDefault'") < body.index("'IPGrant'")


def test_wmi_write_uses_the_whole_object_and_put():
    body = functions()["Set-WmiValue"]
    assert "Get-WmiServerSetting" in body and "Put()" in body


# ---- controller and payload agree ------------------------------------------------------------------
WRITER_FOR = {
    ("DWORD", "adsi"): "Set-AdsiValue", ("BOOL", "adsi"): "Set-AdsiValue", ("STRING", "adsi"): "Set-AdsiValue",
    ("MULTISZ", "adsi"): "Set-AdsiValue", ("BINARY", "adsi"): "Set-AdsiValue",
    ("IPSECURITY", "adsi"): "Set-AdsiIPSecurity", ("BINARY", "wmi"): "Set-WmiValue", ("SECRET", "adsi"): "Set-AdsiSecret",
}


def _switch_labels(function_text):
    return {node.children[0].text.decode("utf-8").strip("'") for node in ps.nodes_of_type(ps.parse(function_text), "switch_clause")}


def test_every_writable_property_has_a_writer():
    table = functions()
    for prop in _metabase.SERVER_PROPERTIES + _metabase.DOMAIN_PROPERTIES:
        if prop.name in _metabase.READ_ONLY:
            continue
        writer = WRITER_FOR[(prop.type, prop.via)]
        assert writer in table, prop
        if writer == "Set-AdsiValue":
            assert prop.type in _switch_labels(table[writer]), prop


def test_every_type_can_be_read():
    assert _switch_labels(functions()["Read-AdsiValue"]) == set(_metabase.TYPES)
    assert set(re.findall(r"'(\w+)'", re.search(r"\$PropertyTypes = @\(([^)]*)\)", text()).group(1))) == set(_metabase.TYPES)


def test_operations_the_controller_emits_are_known_to_the_payload():
    host = fake_metabase.FakeMetabase.windows_default()
    host.add_server("old", bindings=(":2525:",))
    state = read_state(host)
    server_spec = _metabase_server.build_server_spec(dict(
        name="s", state="started", bindings=[{"address": "192.0.2.1", "port": 25}], default_domain="s.invalid", fqdn="s.example.org",
        authentication=["anonymous"], require_tls=False, relay_for_authenticated=False, relay_ip_list={"entries": []},
        connection_ip_list={"grant_by_default": True, "entries": []}, smart_host="10.0.0.2", outbound_port=25, outbound_tls=True,
        outbound_authentication="basic", outbound_username="u", outbound_password="p", max_message_size=1,
        masquerade_domain="example.org", mail_root="C:\\mail", tls_certificate_thumbprint="AB" * 20))
    operations = _metabase_server.plan_server(server_spec, state).operations
    operations += _metabase_server.plan_server(_metabase_server.build_server_spec({"name": "old", "state": "absent"}), state).operations
    operations += _metabase_domain.plan_domains("[SMTP Virtual Server #1]", _metabase_domain.build_domain_specs({"domains": [
        {"name": "example.org", "allow_relay": True, "smart_host": "10.0.0.2", "tls": True, "authentication": "basic",
         "username": "u", "password": "p"}]}), state).operations
    known = set(_known_operations())
    for operation in operations:
        assert operation["op"] in known, operation
        if operation["op"] in ("set_property", "set_secret"):
            assert (operation["type"], operation["via"]) in WRITER_FOR, operation
    assert {operation["op"] for operation in operations} == known - {"delete_domain"}


# ---- issue 15: what a real host would hit first ------------------------------------------------------
def test_a_new_server_gets_the_child_keys_iis_manager_creates():
    body = functions()["New-SmtpServer"]
    assert "Add-ChildKey" in body and "$Operation.children" in body
    assert body.index("CommitChanges()") < body.index("Add-ChildKey")
    operation = _metabase_server.plan_server(_metabase_server.build_server_spec(dict(
        name="new", state="present", bindings=[{"address": "192.0.2.1", "port": 25}])),
        read_state(fake_metabase.FakeMetabase.windows_default())).operations[0]
    assert operation["op"] == "create_server"
    assert [(child["name"], child["class"]) for child in operation["children"]] == sorted(fake_metabase.CHILD_KEYS.items())


def test_a_domain_is_created_in_its_container_which_is_made_first_when_missing():
    body = functions()["New-SmtpDomain"]
    assert body.index("Add-ChildKey -Parent $server -Name 'Domain' -Class ([string]$Operation.container_class)") < body.index(
        "Children.Add($name, 'IIsSmtpDomain')")
    # An existing key is found, not created twice.
    adder = functions()["Add-ChildKey"]
    assert adder.index("Children.Find($Name)") < adder.index("Children.Add($Name, $Class)")


def test_start_and_stop_write_server_command_then_fall_back_to_the_adsi_method():
    body = functions()["Invoke-ServerControl"]
    assert "Properties['ServerCommand'].Value = [int]$Operation.command" in body
    assert body.index("'ServerCommand'") < body.index("Invoke($Method)")
    assert body.count("Wait-ServerState") == 2
    assert {"start_server": _metabase.SERVER_COMMAND["start"], "stop_server": _metabase.SERVER_COMMAND["stop"]} == fake_metabase.SERVER_COMMAND


def test_a_missing_ipsecurity_object_is_never_dereferenced():
    reader = functions()["Read-IPSecurity"]
    assert reader.index("if ($null -eq $Value)") < reader.index("$Value.GetType()")
    writer = functions()["Set-AdsiIPSecurity"]
    assert writer.index("if ($null -eq $ipsec)") < writer.index("$ipsec.GetType()")
    assert "Set-WmiIPSecurity" in writer
    fallback = functions()["Set-WmiIPSecurity"]
    assert "'IIsIPSecuritySetting'" in fallback and "Put()" in fallback and "MAILRELAY:ipsecurity_missing:" in fallback
    assert "ipsecurity_missing" in _metabase.ERROR_HINTS
