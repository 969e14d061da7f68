# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mailrelay.smtp.iis_smtp_server against a fake Windows host (tests/fakes/fake_metabase.py)."""

from __future__ import annotations

import functools
import json

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.mailrelay.smtp.plugins.action.iis_smtp_server import ActionModule
from ansible_collections.mailrelay.smtp.plugins.module_utils import _iis_ip_security_list
from ansible_collections.mailrelay.smtp.tests.fakes.fake_metabase import FakeMetabase
from ansible_collections.mailrelay.smtp.tests.unit.utils.iis_smtp_action import apply_calls, run_action

run = functools.partial(run_action, ActionModule)

SECRET = "Sm4rt-H0st-pa55!"
SUBMISSION = dict(
    name="mailrelay submission",
    state="started",
    bindings=[{"address": "192.0.2.10", "port": 587}],
    default_domain="submission.invalid",
    fqdn="smtp.example.org",
    authentication=["basic", "integrated"],
    require_tls=True,
    relay_for_authenticated=True,
    relay_ip_list={"grant_by_default": False, "entries": []},
    smart_host="10.0.0.2",
    outbound_port=25,
    max_message_size=10485760,
)


def stored(host, name="mailrelay submission"):
    return host.server_by_name(name)[1]


def test_create_reads_once_and_applies_once():
    host = FakeMetabase.windows_default()
    result, stub = run(host, SUBMISSION)
    assert result["changed"] is True and not result.get("failed")
    assert stub.modes() == ["read", "apply"]
    assert {call["payload"] for call in stub.calls} == {"iis_smtp"}
    server = stored(host)
    assert server["state"] == 2
    assert server["props"]["ServerBindings"] == ["192.0.2.10:587:"]
    assert server["props"]["AuthFlags"] == 6
    assert server["props"]["RelayForAuth"] == 0xFFFFFFFF
    assert server["props"]["SmartHost"] == "[10.0.0.2]" and server["props"]["SmartHostType"] == 2
    assert _iis_ip_security_list.decode_blob(server["props"]["RelayIpList"]) == _iis_ip_security_list.AccessList(False)
    assert result["server"]["index"] == 2
    assert result["server"]["bindings"] == ["192.0.2.10:587"]
    assert result["operations"][0] == "create_server" and result["operations"][-1] == "start_server"


def test_second_run_is_a_no_op_with_one_read():
    host = FakeMetabase.windows_default()
    run(host, SUBMISSION)
    result, stub = run(host, SUBMISSION)
    assert result["changed"] is False
    assert stub.modes() == ["read"]
    assert result["operations"] == []


def test_change_writes_only_what_differs():
    host = FakeMetabase.windows_default()
    run(host, SUBMISSION)
    result, stub = run(host, dict(SUBMISSION, max_message_size=5242880), diff=True)
    assert result["changed"] is True
    assert stub.modes() == ["read", "apply"]
    assert [op["name"] for op in apply_calls(stub)[0]["parameters"]["Operations"]] == ["MaxMessageSize"]
    assert result["diff"]["before"]["max_message_size"] == 10485760
    assert result["diff"]["after"]["max_message_size"] == 5242880
    assert stored(host)["props"]["MaxMessageSize"] == 5242880


def test_check_mode_stops_after_the_diff():
    host = FakeMetabase.windows_default()
    result, stub = run(host, SUBMISSION, check_mode=True, diff=True)
    assert result["changed"] is True
    assert stub.modes() == ["read"]
    assert stored(host) is None
    assert result["diff"]["before"] == {"name": "mailrelay submission", "state": "absent"}
    assert result["diff"]["after"]["state"] == "started"


def test_diff_is_readable():
    host = FakeMetabase.windows_default()
    run(host, SUBMISSION)
    args = dict(SUBMISSION, authentication=["basic"], relay_ip_list={"grant_by_default": False, "entries": ["10.1.2.0/24", "10.9.9.9"]})
    result, dummy = run(host, args, check_mode=True, diff=True)
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before["authentication"] == ["basic", "integrated"] and after["authentication"] == ["basic"]
    assert before["relay_ip_list"] == {"grant_by_default": False, "entries": []}
    assert after["relay_ip_list"] == {"grant_by_default": False, "entries": ["10.1.2.0/24", "10.9.9.9/32"]}
    assert after["bindings"] == ["192.0.2.10:587"]
    # Nothing binary or numeric-only in the diff: flags and lists are by name.
    assert "AuthFlags" not in json.dumps(result["diff"]) and "RelayIpList" not in json.dumps(result["diff"])


def test_removal():
    host = FakeMetabase.windows_default()
    run(host, SUBMISSION)
    result, stub = run(host, {"name": "mailrelay submission", "state": "absent"}, diff=True)
    assert result["changed"] is True and stored(host) is None
    assert result["server"] is None
    assert result["diff"]["after"] == {"name": "mailrelay submission", "state": "absent"}
    result, stub = run(host, {"name": "mailrelay submission", "state": "absent"})
    assert result["changed"] is False and stub.modes() == ["read"]


def test_stop_and_start():
    host = FakeMetabase.windows_default()
    result, dummy = run(host, {"name": "[SMTP Virtual Server #1]", "state": "stopped"})
    assert result["changed"] is True
    assert stored(host, "[SMTP Virtual Server #1]")["state"] == 4
    assert stored(host, "[SMTP Virtual Server #1]")["props"]["ServerAutoStart"] is False
    result, dummy = run(host, {"name": "[SMTP Virtual Server #1]", "state": "stopped"})
    assert result["changed"] is False


def test_open_relay_is_refused_before_any_change():
    host = FakeMetabase.windows_default()
    args = dict(SUBMISSION, authentication=["anonymous"], relay_ip_list={"grant_by_default": True, "entries": []})
    result, stub = run(host, args)
    assert result["failed"] is True
    assert "refusing to leave virtual server 'mailrelay submission' as an open relay" in result["msg"]
    assert "All except the list below" in result["msg"]
    assert stub.modes() == ["read"] and stored(host) is None


def test_broad_relay_network_is_refused_unless_allowed():
    host = FakeMetabase.windows_default()
    args = dict(SUBMISSION, authentication=["anonymous"], relay_ip_list={"entries": ["10.0.0.0/8"]})
    result, dummy = run(host, args)
    assert result["failed"] is True and "10.0.0.0/8, wider than /24" in result["msg"]
    result, dummy = run(host, dict(args, allow_open_relay=True))
    assert result["changed"] is True and not result.get("failed")
    result, dummy = run(host, dict(args, allow_open_relay=False, internet_facing=False))
    assert result["changed"] is False and not result.get("failed")


def test_duplicate_binding_is_refused_with_a_clear_message():
    host = FakeMetabase.windows_default()
    host.add_server("other", bindings=["192.0.2.10:587:"])
    result, stub = run(host, SUBMISSION)
    assert result["failed"] is True
    assert "192.0.2.10:587 is already used by virtual server 'other'" in result["msg"]
    assert stub.modes() == ["read"]


def test_default_server_on_all_addresses_gives_a_warning():
    host = FakeMetabase.windows_default()
    result, dummy = run(host, dict(SUBMISSION, bindings=[{"address": "192.0.2.10", "port": 25}]))
    assert any("all unassigned addresses, port 25" in warning for warning in result["warnings"])


def test_start_failure_code_is_translated():
    host = FakeMetabase.windows_default()
    host.add_server("twin", bindings=["192.0.2.10:587:"], started=False, ServerAutoStart=False)
    original = host.handle

    def twin_starts_between_read_and_apply(payload, parameters, secrets):
        if parameters["Mode"] == "apply":
            host.server_by_name("twin")[1]["state"] = 2
        return original(payload, parameters, secrets)

    host.handle = twin_starts_between_read_and_apply
    result, dummy = run(host, SUBMISSION)
    assert result["failed"] is True
    assert result["error_code"] == "control_failed"
    assert "same address and port" in result["msg"]
    assert stored(host)["state"] == 4


def test_setting_the_host_does_not_keep_is_an_error():
    host = FakeMetabase.windows_default()
    host.refuse.add("MasqueradeDomain")
    result, stub = run(host, dict(SUBMISSION, masquerade_domain="example.org"))
    assert result["failed"] is True
    assert "did not keep these settings: MasqueradeDomain" in result["msg"]


def test_password_is_a_secure_parameter_and_never_in_the_result():
    host = FakeMetabase.windows_default()
    args = dict(SUBMISSION, outbound_authentication="basic", outbound_username="relay", outbound_password=SECRET, outbound_tls=True)
    for check_mode in (True, False):
        result, stub = run(host, args, check_mode=check_mode, diff=True)
        assert SECRET not in json.dumps(result)
        for call in stub.calls:
            assert SECRET not in json.dumps(call["parameters"])
    apply_call = apply_calls(stub)[0]
    assert json.loads(apply_call["secrets"]["Secrets"]) == {"outbound_password": SECRET}
    assert stored(host)["props"]["RoutePassword"] == SECRET
    assert result["diff"]["after"]["outbound_password"] == "(new value)"
    # Idempotent: the password is not rewritten while the account stays.
    result, stub = run(host, args)
    assert result["changed"] is False and stub.modes() == ["read"]


def test_thousand_relay_addresses_cost_one_read_and_one_apply():
    host = FakeMetabase.windows_default()
    hosts = ["10.%d.%d.%d" % (i // 65536, (i // 256) % 256, i % 256) for i in range(1, 1001)]
    args = dict(SUBMISSION, relay_ip_list={"grant_by_default": False, "entries": hosts})
    result, stub = run(host, args)
    assert result["changed"] is True and stub.modes() == ["read", "apply"]
    assert len(_iis_ip_security_list.decode_blob(stored(host)["props"]["RelayIpList"]).entries) == 1000
    result, stub = run(host, args)
    assert result["changed"] is False and stub.modes() == ["read"]


def test_undecodable_relay_list_is_replaced_when_managed():
    # Windows Server 2022's broken default: the module still fixes it.
    host = FakeMetabase()
    host.add_server("mailrelay submission", bindings=["192.0.2.10:587:"], RelayIpList=b"\x18\x00\x00\x80garbage!")
    result, dummy = run(host, SUBMISSION, diff=True)
    assert result["changed"] is True
    assert "cannot be decoded" in json.dumps(result["diff"]["before"]["relay_ip_list"])
    assert _iis_ip_security_list.decode_blob(stored(host)["props"]["RelayIpList"]) == _iis_ip_security_list.AccessList(False)


def test_connection_control_list():
    host = FakeMetabase.windows_default()
    args = dict(SUBMISSION, connection_ip_list={"grant_by_default": True, "entries": ["198.51.100.0/24"]})
    result, dummy = run(host, args)
    assert stored(host)["props"]["IPSecurity"] == {"GrantByDefault": True, "IPGrant": [], "IPDeny": ["198.51.100.0, 255.255.255.0"]}
    result, stub = run(host, args)
    assert result["changed"] is False


def test_missing_smtp_feature_has_a_clear_message():
    result, stub = run(FakeMetabase(smtp_installed=False), SUBMISSION)
    assert result["failed"] is True and result["error_code"] == "smtp_missing"
    assert "install SMTP-Server" in result["msg"]


def test_missing_wmi_has_a_clear_message():
    result, stub = run(FakeMetabase(wmi_installed=False), SUBMISSION)
    assert result["error_code"] == "wmi_missing" and "Web-WMI" in result["msg"]


@pytest.mark.parametrize("args, fragment", [
    (dict(SUBMISSION, bindings=[{"address": "", "port": 25}]), "bindings[0].address"),
    (dict(SUBMISSION, smart_host="10.0.0.2:2525"), "smart_host"),
    (dict(SUBMISSION, relay_ip_list={"entries": ["10.0.0.9/16"]}), "relay_ip_list.entries[0]"),
])
def test_bad_input_fails_before_any_call(args, fragment):
    result, stub = run(FakeMetabase.windows_default(), args)
    assert result["failed"] is True and fragment in result["msg"]
    assert stub.calls == []


def test_argument_spec_rejects_unknown_choices():
    with pytest.raises(AnsibleActionFail, match="authentication"):
        run(FakeMetabase(), dict(SUBMISSION, authentication=["kerberos"]))


# ---- issue 15 -------------------------------------------------------------------------------------------
def test_the_default_virtual_server_is_not_deleted():
    """Item 10: state absent for server #1 is refused before anything changes; stopping it works."""
    host = FakeMetabase.windows_default()
    result, stub = run(host, {"name": "[SMTP Virtual Server #1]", "state": "absent"})
    assert result["failed"] is True and "default virtual server (#1)" in result["msg"] and "state: stopped" in result["msg"]
    assert stub.modes() == ["read"] and stored(host, "[SMTP Virtual Server #1]") is not None


def test_start_stop_and_certificate_are_reported_as_unconfirmed():
    """Items 5 and 6: the task's output says what it relied on that no live host has confirmed."""
    host = FakeMetabase.windows_default()
    args = dict(SUBMISSION, tls_certificate_thumbprint="01" * 20)
    result, stub = run(host, args)
    assert result["changed"] is True
    assert [op["command"] for op in apply_calls(stub)[0]["parameters"]["Operations"] if op["op"] == "start_server"] == [1]
    assert any("ServerCommand" in text for text in result["unconfirmed"])
    assert any("SSLCertHash" in text for text in result["unconfirmed"])
    result, stub = run(host, args)
    assert result["changed"] is False and [text for text in result["unconfirmed"] if "SSLCertHash" in text]
    assert not any("ServerCommand" in text for text in result["unconfirmed"])
