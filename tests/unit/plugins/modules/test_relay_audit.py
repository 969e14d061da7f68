# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.mailrelay.smtp.plugins.module_utils._smtp_capture import CaptureListener
from ansible_collections.mailrelay.smtp.plugins.modules import relay_audit
from ansible_collections.mailrelay.smtp.tests.unit.plugins.module_utils._relay_stand_in import (
    closed_policy,
    free_port,
    open_policy,
    start_stand_in,
)


def run_module(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            relay_audit.main()
    output = capsys.readouterr().out
    return info.value.code, json.loads(output), output


@pytest.fixture
def stand_in():
    started = []

    def start(open_relay):
        server = start_stand_in(open_policy if open_relay else closed_policy)
        started.append(server)
        return server
    yield start
    for server in started:
        server.stop()


def base_args(port, **extra):
    args = dict(host="127.0.0.1", port=port, role="inbound_relay", own_domains=["own.example"], timeout=5)
    args.update(extra)
    return args


def test_check_mode_plans_without_connecting(capsys):
    args = base_args(free_port(), role="submission", username="alice@own.example", password="pw-not-shown",
                     other_sender="bob@own.example", _ansible_check_mode=True)
    code, result, raw = run_module(args, capsys)
    assert code == 0
    assert result["changed"] is False
    assert set(case["verdict"] for case in result["cases"]) == {"skipped"}
    assert all(case["sent"] == [] for case in result["cases"])
    assert result["counts"]["skipped"] == len(result["cases"])
    assert "server" not in result and "ok" not in result
    assert "pw-not-shown" not in raw


def test_closed_server_passes(stand_in, capsys):
    server = stand_in(open_relay=False)
    code, result, _raw = run_module(base_args(server.address[1]), capsys)
    assert code == 0
    assert result["changed"] is False
    assert result["failed_cases"] == []
    assert result["counts"]["pass"] == len(result["cases"])
    assert result["server"]["name"] == "mx.own.example"


def test_open_server_fails_with_a_readable_summary_and_full_data(stand_in, capsys):
    server = stand_in(open_relay=True)
    code, result, _raw = run_module(base_args(server.address[1]), capsys)
    assert code == 1
    assert result["failed"] is True
    lines = result["msg"].splitlines()
    assert lines[0] == result["summary"]
    assert "43 failed" in lines[0]
    assert lines[1].startswith("- foreign-recipient (fail): accepted at RCPT TO (250 2.1.5 Ok)")
    assert lines[-1] == "- ... 38 more, see the 'cases' result"
    assert "percent-hack@own.example" in result["failed_cases"]
    assert len(result["cases"]) == 45


def test_cases_selection_and_typos(stand_in, capsys):
    server = stand_in(open_relay=True)
    code, result, _raw = run_module(base_args(server.address[1], cases=dict(include=["percnet-hack*"])), capsys)
    assert code == 1
    assert result["msg"] == "cases: no inbound_relay case matches 'percnet-hack*'"
    code, result, _raw = run_module(base_args(server.address[1], cases=dict(include=["own-domain-*"])), capsys)
    assert code == 0
    assert [case["name"] for case in result["cases"]] == ["own-domain-accepted@own.example"]


def test_auth_rate_limit_adds_the_brute_force_series_last(capsys):
    args = base_args(free_port(), role="submission", username="alice@own.example", password="pw-not-shown",
                     sender="alice@own.example", other_sender="bob@own.example", _ansible_check_mode=True)
    _code, without, _raw = run_module(args, capsys)
    assert not any(case["name"].startswith("auth-rate") or case["name"] == "auth-over-rate" for case in without["cases"])
    code, result, raw = run_module(dict(args, auth_rate_limit=3), capsys)
    assert code == 0 and "pw-not-shown" not in raw
    names = [case["name"] for case in result["cases"]]
    assert names[-4:] == ["auth-rate-warm-up-1", "auth-rate-warm-up-2", "auth-rate-warm-up-3", "auth-over-rate"]


@pytest.mark.parametrize("extra, message", [
    (dict(own_recipient="info@elsewhere.example"), "own_recipient 'info@elsewhere.example' is an address outside own_domains"),
    (dict(source_address="somewhere"), "source_address must be an IP address"),
    (dict(capture=dict(listen="127.0.0.1", wait=1000)), "capture.wait must be between 0 and 300 seconds"),
    (dict(username="alice"), "username is set but password is not"),
    (dict(auth_rate_limit=5), "auth_rate_limit is only for role submission"),
    (dict(role="submission", username="a@own.example", password="pw", auth_rate_limit=0),
     "auth_rate_limit must be between 1 and 100"),
])
def test_bad_input_names_the_option(extra, message, capsys):
    code, result, _raw = run_module(base_args(free_port(), **extra), capsys)
    assert code == 1
    assert message in result["msg"]


def test_unreachable_server(capsys):
    port = free_port()
    code, result, _raw = run_module(base_args(port, timeout=2), capsys)
    assert code == 1
    assert result["msg"].startswith("relay_audit of 127.0.0.1:%d (inbound_relay) could not run: cannot connect" % port)


def test_inconclusive_fails_unless_allowed(capsys):
    # A server that defers every recipient (greylisting) proves nothing either way.
    def policy(rcpt):
        return "450 4.7.1 try again later"
    server = CaptureListener("127.0.0.1", 0, rcpt_policy=policy).start()
    try:
        args = base_args(server.address[1], cases=dict(include=["foreign-recipient"]))
        code, result, _raw = run_module(args, capsys)
        assert code == 1 and result["inconclusive_cases"] == ["foreign-recipient"]
        args["allow_inconclusive"] = True
        code, result, _raw = run_module(args, capsys)
        assert code == 0 and result["cases"][0]["verdict"] == "inconclusive"
    finally:
        server.stop()


def test_foreign_domain_is_derived_from_the_own_domains(stand_in, capsys):
    server = stand_in(open_relay=False)
    args = base_args(server.address[1], own_domains=["own.example", "example.net"], cases=dict(include=["foreign-*"]))
    code, result, _raw = run_module(args, capsys)
    assert code == 0 and result["foreign_domain"] == "example.com"
    assert result["cases"][0]["planned"][1].endswith("@example.com>")
    code, result, _raw = run_module(base_args(server.address[1], foreign_domain="mx.own.example"), capsys)
    assert code == 1
    assert "foreign_domain 'mx.own.example' must be neither an own domain nor a subdomain of one" in result["msg"]


def test_junit_report_is_written_with_secrets_masked(stand_in, capsys, tmp_path):
    import xml.etree.ElementTree as ET
    server = stand_in(open_relay=True)
    path = tmp_path / "audit.xml"
    args = base_args(server.address[1], role="submission", username="alice@own.example", password="pw-in-no-file",
                     tls="none", junit_path=str(path))
    code, result, raw = run_module(args, capsys)
    assert code == 1 and result["changed"] is True and result["junit_path"] == str(path)
    text = path.read_text()
    assert "pw-in-no-file" not in text and "pw-in-no-file" not in raw
    suite = ET.fromstring(text).find("testsuite")
    assert suite.get("name") == result["target"]
    assert len(suite.findall("testcase")) == len(result["cases"])
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failed == result["failed_cases"]


def test_junit_report_names_an_audit_that_could_not_run(capsys, tmp_path):
    path = tmp_path / "audit.xml"
    code, result, _raw = run_module(base_args(free_port(), timeout=2, junit_path=str(path)), capsys)
    assert code == 1 and "could not run" in result["msg"]
    assert "could not run: cannot connect" in path.read_text()


def test_check_mode_writes_no_junit_report(capsys, tmp_path):
    path = tmp_path / "audit.xml"
    code, result, _raw = run_module(base_args(free_port(), junit_path=str(path), _ansible_check_mode=True), capsys)
    assert code == 0 and result["changed"] is False and not path.exists()
