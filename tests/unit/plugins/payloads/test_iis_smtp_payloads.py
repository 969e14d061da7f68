# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The IIS SMTP PowerShell payloads, checked without PowerShell (tree-sitter grammar).

- they parse without errors;
- data arrives only through declared parameters, no string becomes code, and
  every string literal is a fixed name or message (nothing host-specific);
- which ADSI/WMI properties each operation writes, read from the script itself;
- the read payload writes nothing; the read-state code is identical in both;
- the operations and property types the controller emits are the ones the
  apply payload handles.
"""

from __future__ import annotations

import re

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _metabase
from ansible_collections.mailrelay.smtp.plugins.plugin_utils import _windows_rpc
from ansible_collections.mailrelay.smtp.tests.fakes import fake_metabase
from ansible_collections.mailrelay.smtp.tests.unit.utils import powershell_syntax as ps

PAYLOADS = ("iis_smtp_read", "iis_smtp_apply")


def text(name):
    return _windows_rpc.load_payload(name)


def tree(name):
    return ps.parse(text(name))


def functions(name):
    """{function name: body text} of the payload's function definitions."""
    found = {}
    for node in ps.nodes_of_type(tree(name), "function_statement"):
        body = node.text.decode("utf-8")
        found[re.match(r"function\s+([\w-]+)", body).group(1)] = body
    return found


def commands_in(source):
    return {node.text.decode("utf-8") for node in ps.nodes_of_type(ps.parse(source), "command_name")}


def dispatch(name):
    """{operation: set of functions its clause of the main switch calls}."""
    clauses = {}
    for node in ps.nodes_of_type(tree(name), "switch_clause"):
        label = node.children[0].text.decode("utf-8").strip("'\"")
        if label in _known_operations():
            clauses[label] = commands_in(node.text.decode("utf-8"))
    return clauses


def _known_operations():
    match = re.search(r"\$KnownOperations = @\(([^)]*)\)", text("iis_smtp_apply"))
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
    table = functions("iis_smtp_apply")
    seen, pending, result = set(), list(dispatch("iis_smtp_apply")[operation]), set()
    while pending:
        function = pending.pop()
        if function in seen or function not in table:
            continue
        seen.add(function)
        result |= writes(table[function])
        pending.extend(commands_in(table[function]) - seen)
    return result


# ---- syntax and data flow ---------------------------------------------------------------------
@pytest.mark.parametrize("name", PAYLOADS)
def test_parses_without_errors(name):
    assert ps.syntax_errors(tree(name)) == []


@pytest.mark.parametrize("name", PAYLOADS)
def test_no_string_becomes_code(name):
    assert ps.code_from_string_uses(text(name)) == []


def test_declared_parameters_are_what_the_controller_sends():
    read = ps.declared_parameters(tree("iis_smtp_read"))
    apply = ps.declared_parameters(tree("iis_smtp_apply"))
    assert sorted(read) == sorted(_metabase.read_parameters())
    assert sorted(apply) == sorted(list(_metabase.read_parameters()) + ["Operations", "Secrets"])
    assert list(_metabase.secrets_parameter({"k": "v"})) == ["Secrets"]
    assert re.search(r"\[SecureString\]\$Secrets", text("iis_smtp_apply"))


def test_read_payload_runs_in_check_mode():
    assert "[CmdletBinding(SupportsShouldProcess)]" in text("iis_smtp_read")
    assert "SupportsShouldProcess" not in text("iis_smtp_apply")


# Every string literal in the payloads: fixed names and messages, nothing that could be user data.
FIXED_STRINGS = {
    "IIS://localhost/SMTPSVC", "IIS://localhost/SMTPSVC/", "/Domain", "root\\MicrosoftIISv2", "IIsSmtpServerSetting",
    "IIsSmtpServer", "IIsSmtpDomain", "SMTPSVC", "SmtpSvc/", "Running", "Public, Instance, GetProperty",
    "Public, Instance, SetProperty", "GrantByDefault", "IPGrant", "IPDeny", "ServerComment", "ServerBindings",
    "ServerState", "Start", "Stop", "adsi", "wmi", "*", "", ":", "MAILRELAY:*", "^[A-Za-z0-9]+$",
    "^[A-Za-z0-9*][A-Za-z0-9.*-]*$", "DWORD", "BOOL", "STRING", "MULTISZ", "BINARY", "IPSECURITY", "SECRET",
    "create_server", "delete_server", "start_server", "stop_server", "create_domain", "delete_domain",
    "set_property", "set_secret",
}


@pytest.mark.parametrize("name", PAYLOADS)
def test_string_literals_are_fixed_names_or_messages(name):
    unexpected = []
    for node in ps.nodes_of_type(tree(name), "string_literal"):
        literal = node.text.decode("utf-8")
        value = literal[1:-1]
        if value in FIXED_STRINGS or value.startswith("MAILRELAY:"):
            continue
        unexpected.append(literal)
    assert unexpected == []


def test_read_state_code_is_identical_in_both_payloads():
    def region(name):
        source = text(name)
        return source[source.index("#region read-state"):source.index("#endregion read-state")]
    assert region("iis_smtp_read") == region("iis_smtp_apply")


def test_read_payload_writes_nothing():
    source = text("iis_smtp_read")
    assert writes(source) == set()
    for verb in ("CommitChanges", ".Put(", "SetInfo", "Children.Add", "Children.Remove", ".Invoke("):
        assert verb not in source


# ---- what each operation writes -------------------------------------------------------------------
EXPECTED_WRITES = {
    "create_server": {("adsi", "'ServerComment'"), ("adsi", "'ServerBindings'")},
    "delete_server": set(),
    "start_server": set(),
    "stop_server": set(),
    "create_domain": set(),
    "delete_domain": set(),
    # The property the operation names ($name), through whichever interface its type needs.
    "set_property": {("adsi", "$name"), ("IIsIPSecurity", "GrantByDefault"), ("IIsIPSecurity", "IPGrant"),
                     ("IIsIPSecurity", "IPDeny"), ("wmi IIsSmtpServerSetting", "$name")},
    "set_secret": {("adsi", "$name")},
}


def test_every_operation_has_one_clause():
    assert sorted(dispatch("iis_smtp_apply")) == sorted(_known_operations()) == sorted(EXPECTED_WRITES)
    assert sorted(_known_operations()) == sorted(fake_metabase.OPERATIONS)


@pytest.mark.parametrize("operation", sorted(EXPECTED_WRITES))
def test_properties_each_operation_writes(operation):
    assert writes_of_operation(operation) == EXPECTED_WRITES[operation]


def test_written_name_is_the_operations_checked_name():
    for function, body in functions("iis_smtp_apply").items():
        if any(target == "$name" for dummy, target in writes(body)):
            assert "$name = Assert-PropertyName -Name $Operation.name" in body, function


def test_ipsecurity_members_are_written_through_the_object_and_committed():
    body = functions("iis_smtp_apply")["Set-AdsiIPSecurity"]
    assert body.count("CommitChanges()") == 2
    assert body.index("'GrantByDefault'") < body.index("'IPGrant'")


def test_wmi_write_uses_the_whole_object_and_put():
    body = functions("iis_smtp_apply")["Set-WmiValue"]
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
    table = functions("iis_smtp_apply")
    for prop in _metabase.SERVER_PROPERTIES + _metabase.DOMAIN_PROPERTIES:
        if prop.name in _metabase.READ_ONLY:
            continue
        writer = WRITER_FOR[(prop.type, prop.via)]
        assert writer in table, prop
        if writer == "Set-AdsiValue":
            assert prop.type in _switch_labels(table[writer]), prop


def test_every_type_can_be_read():
    assert _switch_labels(functions("iis_smtp_read")["Read-AdsiValue"]) == set(_metabase.TYPES)
    assert set(re.findall(r"'(\w+)'", re.search(r"\$PropertyTypes = @\(([^)]*)\)", text("iis_smtp_read")).group(1))) == set(_metabase.TYPES)


def test_operations_the_controller_emits_are_known_to_the_payload():
    host = fake_metabase.FakeMetabase.windows_default()
    state = _metabase.decode_document(host.handle("iis_smtp_read", _metabase.read_parameters("*"), {}))
    server_spec = _metabase.build_server_spec(dict(
        name="s", state="started", bindings=[{"address": "192.0.2.1", "port": 25}], default_domain="s.invalid", fqdn="s.example.org",
        authentication=["anonymous"], require_tls=False, relay_for_authenticated=False, relay_ip_list={"entries": []},
        connection_ip_list={"grant_by_default": True, "entries": []}, smart_host="10.0.0.2", outbound_port=25, outbound_tls=True,
        outbound_authentication="basic", outbound_username="u", outbound_password="p", max_message_size=1,
        masquerade_domain="example.org", mail_root="C:\\mail", tls_certificate_thumbprint="AB" * 20))
    operations = _metabase.plan_server(server_spec, state).operations
    operations += _metabase.plan_server(_metabase.build_server_spec({"name": "[SMTP Virtual Server #1]", "state": "absent"}), state).operations
    operations += _metabase.plan_domains("[SMTP Virtual Server #1]", _metabase.build_domain_specs({"domains": [
        {"name": "example.org", "allow_relay": True, "smart_host": "10.0.0.2", "tls": True, "authentication": "basic",
         "username": "u", "password": "p"}]}), state).operations
    known = set(_known_operations())
    for operation in operations:
        assert operation["op"] in known, operation
        if operation["op"] in ("set_property", "set_secret"):
            assert (operation["type"], operation["via"]) in WRITER_FOR, operation
    assert {operation["op"] for operation in operations} == known - {"delete_domain"}
