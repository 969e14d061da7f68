# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest

from ansible_collections.mailrelay.smtp.plugins.plugin_utils import _windows_rpc


@pytest.fixture
def payload_dir(tmp_path, monkeypatch):
    (tmp_path / "demo_read.ps1").write_text("[CmdletBinding(SupportsShouldProcess)]\nparam([string]$Name)\n")
    monkeypatch.setattr(_windows_rpc, "PAYLOAD_DIR", str(tmp_path))
    monkeypatch.setattr(_windows_rpc, "_payload_cache", {})
    return tmp_path


def test_module_args_carry_user_data_only_as_parameters(payload_dir):
    args = _windows_rpc.build_module_args("demo_read", {"Name": "x'; Remove-Item C:\\ -Recurse"}, {"Password": "s3cret"})
    assert "Remove-Item" not in args["script"]
    assert args["parameters"] == {"Name": "x'; Remove-Item C:\\ -Recurse"}
    assert args["sensitive_parameters"] == [{"name": "Password", "value": "s3cret"}]
    assert "s3cret" not in json.dumps({k: v for k, v in args.items() if k != "sensitive_parameters"})


def test_decode_result_returns_the_json_document():
    assert _windows_rpc.decode_result("p", {"result": '{"a": [1, 2]}'}) == {"a": [1, 2]}


@pytest.mark.parametrize("result", [{"result": {}}, {"result": None}, {"result": "not json"}])
def test_decode_result_rejects_a_broken_contract(result):
    with pytest.raises(_windows_rpc.PayloadError):
        _windows_rpc.decode_result("p", result)


def test_known_failure_code_is_extracted():
    result = {
        "failed": True,
        "msg": "Unhandled exception while executing script",
        "error": [{"exception": {"message": "MAILRELAY:snapin_missing: Exchange snap-in not found"}}],
    }
    error = _windows_rpc.failure_from_result("exchange", result)
    assert error.code == "snapin_missing"
    assert error.message == "Exchange snap-in not found"


def test_unknown_failure_keeps_the_host_text():
    result = {"failed": True, "msg": "x", "error": [{"error_details": {"message": "Access is denied"}}]}
    error = _windows_rpc.failure_from_result("p", result)
    assert error.code is None and error.message == "Access is denied"


def test_unreachable_host():
    error = _windows_rpc.failure_from_result("p", {"unreachable": True, "msg": "timed out"})
    assert error.code == "unreachable" and "timed out" in error.message
