# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IIS SMTP virtual servers: options, plans, passwords, open-relay rules."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _iis_ip_security_list, _metabase, _metabase_server
from ansible_collections.mailrelay.smtp.plugins.module_utils._metabase import MetabaseError
from ansible_collections.mailrelay.smtp.tests.fakes.fake_metabase import FakeMetabase
from ansible_collections.mailrelay.smtp.tests.unit.plugins.module_utils._metabase_helpers import apply, spec
from ansible_collections.mailrelay.smtp.tests.unit.utils.iis_smtp_action import read_state as host_state


@pytest.mark.parametrize("overrides, fragment", [
    (dict(name=" "), "name:"),
    (dict(bindings=[]), "bindings:"),
    (dict(bindings=[{"address": "", "port": 25}]), r"bindings\[0\].address: '' binds all unassigned"),
    (dict(bindings=[{"address": "0.0.0.0", "port": 25}]), r"bindings\[0\].address"),
    (dict(bindings=[{"address": "smtp.example.org", "port": 25}]), r"bindings\[0\].address: .* not an IPv4"),
    (dict(bindings=[{"address": "192.0.2.1", "port": 70000}]), r"bindings\[0\].port"),
    (dict(default_domain="not a domain"), "default_domain:"),
    (dict(fqdn="localhost"), "fqdn:"),
    (dict(relay_ip_list={"grant_by_default": False, "entries": ["10.0.0.1/8"]}), r"relay_ip_list.entries\[0\]"),
    (dict(connection_ip_list={"entries": ["nope"]}), r"connection_ip_list.entries\[0\]"),
    (dict(smart_host="", smart_host_type="always"), "smart_host_type: always needs a smart_host"),
    (dict(outbound_port=0), "outbound_port:"),
    (dict(max_message_size=-5), "max_message_size:"),
    (dict(outbound_authentication="basic", outbound_tls=True), "outbound_username: required"),
    (dict(outbound_password="x"), "outbound_password: only used"),
    (dict(outbound_authentication="basic", outbound_username="u", outbound_tls=False), "outbound_tls: basic authentication"),
    (dict(mail_root="relative\\path"), "mail_root:"),
    (dict(tls_certificate_thumbprint="abc"), "tls_certificate_thumbprint:"),
])
def test_bad_input_names_the_option(overrides, fragment):
    with pytest.raises(MetabaseError, match=fragment):
        spec(**overrides)


def test_all_unassigned_can_be_allowed_explicitly():
    assert spec(bindings=[{"address": "*", "port": 25}], allow_all_unassigned=True)["bindings"] == (("", 25),)


def test_spec_defaults_to_internet_facing_and_always_for_a_smart_host():
    desired = spec()
    assert desired["internet_facing"] is True
    assert desired["smart_host"] == "[10.0.0.2]"
    assert desired["smart_host_type"] == 2
    assert spec(smart_host="")["smart_host_type"] == 0
    assert spec(tls_certificate_thumbprint="ab:cd" * 10)["tls_certificate_thumbprint"] == "ABCD" * 10


# ---- server plans ----------------------------------------------------------------------------
def test_create_plan_writes_every_managed_setting_then_starts():
    fake = FakeMetabase.windows_default()
    plan = _metabase_server.plan_server(spec(), host_state(fake))
    ops = plan.operations
    assert ops[0] == {"op": "create_server", "server": "mailrelay submission", "bindings": ["192.0.2.10:587:"],
                      "children": [{"name": "Domain", "class": "IIsConfigObject"},
                                   {"name": "Root", "class": "IIsSmtpVirtualDir", "path": "C:\\Inetpub\\mailroot"}]}
    written = {op["name"]: op["value"] for op in ops if op["op"] == "set_property"}
    assert written["AuthFlags"] == 6
    assert written["RelayForAuth"] == -1
    assert written["SmartHost"] == "[10.0.0.2]" and written["SmartHostType"] == 2
    assert written["AccessSSLFlags"] == 8
    assert written["UpdatedFQDN"] is True and written["UpdatedDefaultDomain"] is True
    assert base64.b64decode(written["RelayIpList"]) == _iis_ip_security_list.encode_blob(_iis_ip_security_list.AccessList(False))
    assert ops[-1] == {"op": "start_server", "server": "mailrelay submission", "command": 1}
    relay_op = [op for op in ops if op.get("name") == "RelayIpList"][0]
    assert (relay_op["type"], relay_op["via"]) == ("BINARY", "wmi")


def test_applied_plan_leaves_nothing_to_do():
    fake = FakeMetabase.windows_default()
    apply(fake, _metabase_server.plan_server(spec(), host_state(fake)))
    again = _metabase_server.plan_server(spec(), host_state(fake))
    assert again.operations == []
    assert again.before == again.after


def test_changing_one_setting_writes_one_property():
    fake = FakeMetabase.windows_default()
    apply(fake, _metabase_server.plan_server(spec(), host_state(fake)))
    plan = _metabase_server.plan_server(spec(smart_host="[10.0.0.3]"), host_state(fake))
    assert [(op["op"], op["name"], op["value"]) for op in plan.operations] == [("set_property", "SmartHost", "[10.0.0.3]")]
    assert plan.before["smart_host"] == "[10.0.0.2]" and plan.after["smart_host"] == "[10.0.0.3]"


def test_options_left_out_are_not_managed():
    fake = FakeMetabase.windows_default()
    apply(fake, _metabase_server.plan_server(spec(), host_state(fake)))
    plan = _metabase_server.plan_server(_metabase_server.build_server_spec({"name": "mailrelay submission"}), host_state(fake))
    assert plan.operations == []


def test_unmanaged_bits_are_kept():
    fake = FakeMetabase()
    fake.add_server("relay", bindings=["192.0.2.11:25:"], AuthFlags=0x10 | 0x1, RouteAction=0x10000,
                    RelayIpList=_iis_ip_security_list.encode_blob(_iis_ip_security_list.AccessList(False)))
    plan = _metabase_server.plan_server(_metabase_server.build_server_spec(
        {"name": "relay", "authentication": ["basic"], "outbound_tls": True}), host_state(fake))
    written = {op["name"]: op["value"] for op in plan.operations}
    assert written == {"AuthFlags": 0x10 | 0x2, "RouteAction": 0x10000 | 0x4}


def test_relay_for_auth_written_as_one_is_read_as_enabled():
    fake = FakeMetabase()
    fake.add_server("relay", bindings=["192.0.2.11:25:"], RelayForAuth=1)
    plan = _metabase_server.plan_server(_metabase_server.build_server_spec({"name": "relay", "relay_for_authenticated": True}), host_state(fake))
    assert plan.operations == []


def test_removal_stops_then_deletes():
    fake = FakeMetabase.windows_default()
    fake.add_server("old relay", bindings=(":2525:",))
    plan = _metabase_server.plan_server(_metabase_server.build_server_spec({"name": "OLD relay", "state": "absent"}), host_state(fake))
    assert [op["op"] for op in plan.operations] == ["stop_server", "delete_server"]
    assert plan.after == {"name": "OLD relay", "state": "absent"}
    nothing = _metabase_server.plan_server(_metabase_server.build_server_spec({"name": "other", "state": "absent"}), host_state(fake))
    assert nothing.operations == []


def test_creating_needs_bindings():
    with pytest.raises(MetabaseError, match="bindings: required to create"):
        _metabase_server.plan_server(_metabase_server.build_server_spec({"name": "new"}), host_state(FakeMetabase()))


def test_duplicate_binding_of_a_running_server_is_refused_for_started():
    fake = FakeMetabase()
    fake.add_server("other", bindings=["192.0.2.10:587:"])
    with pytest.raises(MetabaseError, match="192.0.2.10:587 is already used by virtual server 'other'"):
        _metabase_server.plan_server(spec(), host_state(fake))
    plan = _metabase_server.plan_server(spec(state="present"), host_state(fake))
    assert any("already used" in warning for warning in plan.warnings)


def test_default_server_on_all_addresses_is_a_warning():
    plan = _metabase_server.plan_server(spec(bindings=[{"address": "192.0.2.10", "port": 25}]), host_state(FakeMetabase.windows_default()))
    assert any("all unassigned addresses, port 25" in warning for warning in plan.warnings)


def test_two_servers_with_one_name_are_ambiguous():
    fake = FakeMetabase()
    fake.add_server("twin", bindings=["192.0.2.1:25:"])
    fake.add_server("Twin", bindings=["192.0.2.2:25:"])
    with pytest.raises(MetabaseError, match="2 virtual servers are named"):
        _metabase_server.plan_server(spec(name="twin"), host_state(fake))


def test_password_written_on_create_and_on_account_change_only():
    fake = FakeMetabase.windows_default()
    desired = spec(outbound_authentication="basic", outbound_username="relay", outbound_password="pw1", outbound_tls=True)
    plan = _metabase_server.plan_server(desired, host_state(fake))
    secret_ops = [op for op in plan.operations if op["op"] == "set_secret"]
    assert secret_ops == [{"op": "set_secret", "server": "mailrelay submission", "name": "RoutePassword", "type": "SECRET",
                           "via": "adsi", "secret": "outbound_password", "verify": False}]
    assert plan.secrets == {"outbound_password": "pw1"}
    assert "pw1" not in repr(plan.operations) and "pw1" not in repr(plan.after)
    apply(fake, plan)
    index, server = fake.server_by_name("mailrelay submission")
    assert server["props"]["RoutePassword"] == "pw1"
    assert _metabase_server.plan_server(desired, host_state(fake)).operations == []
    changed_user = _metabase_server.plan_server(dict(desired, outbound_username="other"), host_state(fake))
    assert [op["op"] for op in changed_user.operations] == ["set_property", "set_secret"]
    always = _metabase_server.plan_server(dict(desired, update_password="always"), host_state(fake))
    assert [op["op"] for op in always.operations] == ["set_secret"]


def test_mail_root_sets_four_directories():
    fake = FakeMetabase.windows_default()
    plan = _metabase_server.plan_server(spec(mail_root="C:\\inetpub\\mailroot-submission\\"), host_state(fake))
    written = {op["name"]: op["value"] for op in plan.operations if op["op"] == "set_property"}
    assert written["QueueDirectory"] == "C:\\inetpub\\mailroot-submission\\Queue"
    assert written["BadMailDirectory"] == "C:\\inetpub\\mailroot-submission\\Badmail"
    apply(fake, plan)
    state = host_state(fake)
    assert _metabase_server.server_view(state.named("mailrelay submission").props)["mail_root"] == "C:\\inetpub\\mailroot-submission"
    assert _metabase_server.plan_server(spec(mail_root="c:\\inetpub\\MAILROOT-submission"), state).operations == []


# ---- open relay rules --------------------------------------------------------------------------
def _props(auth, relay):
    return {"AuthFlags": auth, "RelayIpList": None if relay is None else _iis_ip_security_list.encode_blob(relay), "ServerState": 2}


@pytest.mark.parametrize("auth, relay, risky", [
    (1, _iis_ip_security_list.AccessList(True), True),                                  # anonymous + grant all
    (1, _iis_ip_security_list.AccessList(True, ["192.0.2.66"]), True),                  # anonymous + all except one
    (1, _iis_ip_security_list.AccessList(False, ["10.0.0.0/8"]), True),                 # broad network
    (1, _iis_ip_security_list.AccessList(False, ["0.0.0.0/0"]), True),
    (1, _iis_ip_security_list.AccessList(False, ["10.0.0.0/24", "10.0.1.7"]), False),  # narrow
    (1, _iis_ip_security_list.AccessList(False), False),
    (1, None, False),                                                         # unset: Windows' restrictive default
    (6, _iis_ip_security_list.AccessList(True), False),                                 # no anonymous access
])
def test_open_relay_risks(auth, relay, risky):
    assert bool(_metabase_server.open_relay_risks(_props(auth, relay))) is risky


def test_undecodable_relay_list_with_anonymous_is_a_risk():
    assert "unreadable" in _metabase_server.open_relay_risks({"AuthFlags": 1, "RelayIpList": b"\x01\x02\x03\x04"})[0]


def test_refusal_applies_to_the_state_after_and_only_when_running():
    fake = FakeMetabase.windows_default()
    open_relay = dict(authentication=["anonymous"], relay_ip_list={"grant_by_default": True, "entries": []})
    desired = spec(**open_relay)
    plan = _metabase_server.plan_server(desired, host_state(fake))
    assert _metabase_server.server_relay_refusal(desired, plan, host_state(fake))
    for overrides in (dict(allow_open_relay=True), dict(internet_facing=False), dict(state="stopped")):
        desired = spec(**dict(open_relay, **overrides))
        plan = _metabase_server.plan_server(desired, host_state(fake))
        assert _metabase_server.server_relay_refusal(desired, plan, host_state(fake)) == [], overrides


# ---- issue 15 --------------------------------------------------------------------------------------------
def test_the_default_virtual_server_is_never_deleted():
    """Item 10: SmtpSvc/1 is what other tools address by default; deleting it is refused, stopping is fine."""
    fake = FakeMetabase.windows_default()
    with pytest.raises(MetabaseError, match=r"state: .*default virtual server \(#1\).*use state: stopped"):
        _metabase_server.plan_server(_metabase_server.build_server_spec({"name": "[SMTP Virtual Server #1]", "state": "absent"}), host_state(fake))
    stop = _metabase_server.plan_server(_metabase_server.build_server_spec({"name": "[SMTP Virtual Server #1]", "state": "stopped"}), host_state(fake))
    assert [op["op"] for op in stop.operations] == ["set_property", "stop_server"]


def test_an_unset_relay_ip_list_is_only_the_list_below_with_nobody_on_it():
    """Item 8: Salt documents None as the restrictive "only the list below", empty: no change every run."""
    fake = FakeMetabase()
    fake.add_server("relay", bindings=["192.0.2.11:25:"])
    assert "RelayIpList" not in fake.servers[1]["props"]
    desired = _metabase_server.build_server_spec({"name": "relay", "relay_ip_list": {"grant_by_default": False, "entries": []}})
    assert _metabase_server.plan_server(desired, host_state(fake)).operations == []
    granting = _metabase_server.build_server_spec({"name": "relay", "relay_ip_list": {"grant_by_default": False, "entries": ["10.0.0.5"]}})
    assert [op["name"] for op in _metabase_server.plan_server(granting, host_state(fake)).operations] == ["RelayIpList"]
    assert _metabase_server.server_view(host_state(fake).named("relay").props)["relay_ip_list"] == {"grant_by_default": False, "entries": []}


def test_certificate_thumbprint_and_start_stop_are_reported_as_unconfirmed():
    """Items 5 and 6: SSLCertHash through ADSI and ServerCommand are inferred for SMTP."""
    fake = FakeMetabase.windows_default()
    plan = _metabase_server.plan_server(spec(tls_certificate_thumbprint="AB" * 20), host_state(fake))
    assert set(plan.unconfirmed) == {_metabase.UNCONFIRMED["SSLCertHash.location"], _metabase.UNCONFIRMED["server.start_stop"]}
    assert _metabase._FACTS["SSLCertHash.location"].confidence == "unconfirmed"
    assert _metabase.SERVER_COMMAND == {"start": 1, "stop": 2}
    apply(fake, plan)
    assert _metabase_server.plan_server(spec(), host_state(fake)).unconfirmed == []
