# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fixed read -> plan -> apply -> verify sequence, with a toy key/value resource."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.mailrelay.smtp.plugins.plugin_utils import _windows_rpc
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._windows_resource import (
    Plan,
    ResourceInputError,
    WindowsResourceAction,
)
from ansible_collections.mailrelay.smtp.tests.unit.utils.windows_action import (
    PayloadFailure,
    WinPowerShellStub,
    make_action,
)


class ToyAction(WindowsResourceAction):
    argument_spec = {
        "values": {"type": "dict", "default": {}},
        "password": {"type": "str", "no_log": True},
    }
    payload = "toy"

    def build_desired(self, params):
        if "bad" in params["values"]:
            raise ResourceInputError("values.bad is not allowed")
        return dict(params["values"])

    def decode(self, params, raw):
        return raw["values"]

    def plan(self, params, desired, current):
        ops = [{"op": "set", "name": k, "value": v} for k, v in sorted(desired.items()) if current.get(k) != v]
        secrets = {}
        if params.get("password"):
            ops.append({"op": "set_secret", "name": "password", "secret": "Password", "verify": False})
            secrets["Password"] = params["password"]
        return Plan(ops, before=dict(current), after=dict(current, **desired), secrets=secrets)

    def report(self, params, desired, current, plan):
        return {"values": current}


class FakeToyHost:
    def __init__(self, values=None, sticky=()):
        self.values = dict(values or {})
        self.secret = None
        self.sticky = set(sticky)  # names the host silently refuses to change

    def handle(self, payload, parameters, secrets):
        assert payload == "toy"
        if parameters["Mode"] == "apply":
            for op in parameters["Operations"]:
                if op["op"] == "set" and op["name"] not in self.sticky:
                    self.values[op["name"]] = op["value"]
                elif op["op"] == "set_secret":
                    if op["secret"] not in secrets:
                        raise PayloadFailure("MAILRELAY:no_secret: secret parameter missing")
                    self.secret = secrets[op["secret"]]
        return {"values": dict(self.values)}


@pytest.fixture(autouse=True)
def toy_payloads(tmp_path, monkeypatch):
    (tmp_path / "toy.ps1").write_text(
        "[CmdletBinding(SupportsShouldProcess)]\nparam([string]$Mode, [object[]]$Operations, [securestring]$Password)\n")
    monkeypatch.setattr(_windows_rpc, "PAYLOAD_DIR", str(tmp_path))
    monkeypatch.setattr(_windows_rpc, "_payload_cache", {})


def modes(stub):
    return [call["parameters"]["Mode"] for call in stub.calls]


def run(host, args, **kwargs):
    action = make_action(ToyAction, args, **kwargs)
    stub = WinPowerShellStub(host)
    action._execute_module = stub
    return action.run(task_vars={}), stub


def test_change_reads_once_and_applies_once():
    host = FakeToyHost({"a": 1})
    result, stub = run(host, {"values": {"a": 2, "b": 3}}, diff=True)
    assert result["changed"] is True
    assert host.values == {"a": 2, "b": 3}
    assert modes(stub) == ["read", "apply"]
    assert result["diff"] == {"before": {"a": 1}, "after": {"a": 2, "b": 3}}


def test_no_op_does_not_apply():
    result, stub = run(FakeToyHost({"a": 1}), {"values": {"a": 1}})
    assert result["changed"] is False
    assert modes(stub) == ["read"]


def test_check_mode_stops_after_the_diff():
    host = FakeToyHost({"a": 1})
    result, stub = run(host, {"values": {"a": 2}}, check_mode=True, diff=True)
    assert result["changed"] is True and host.values == {"a": 1}
    assert result["diff"]["after"] == {"a": 2}
    assert modes(stub) == ["read"]


def test_secret_travels_as_sensitive_parameter_and_never_in_the_result():
    host = FakeToyHost({"a": 1})
    result, stub = run(host, {"values": {"a": 1}, "password": "Pa55-word!"}, diff=True)
    assert host.secret == "Pa55-word!"
    apply_call = stub.calls[-1]
    assert apply_call["parameters"]["Mode"] == "apply"
    assert "Pa55-word!" not in json.dumps(apply_call["parameters"])
    assert apply_call["secrets"] == {"Password": "Pa55-word!"}
    assert "Pa55-word!" not in json.dumps(result)


def test_setting_the_host_does_not_keep_is_an_error():
    result, dummy = run(FakeToyHost({"a": 1}, sticky={"a"}), {"values": {"a": 2}})
    assert result["failed"] is True
    assert "did not keep these settings: a" in result["msg"]


def test_resource_input_error_fails_before_any_call():
    result, stub = run(FakeToyHost(), {"values": {"bad": 1}})
    assert result["failed"] is True and result["msg"] == "values.bad is not allowed"
    assert stub.calls == []


def test_argument_spec_errors_fail_before_any_call():
    with pytest.raises(AnsibleActionFail, match="values"):
        run(FakeToyHost(), {"values": "not-a-dict"})
