# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opendkim's decisions with real keys (openssl) and real configuration checks (opendkim -n),
the signer processes replaced by recorders. Real signing runs in the dns_dkim integration target."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dkim
from ansible_collections.mailrelay.smtp.plugins.modules import opendkim

pytestmark = pytest.mark.skipif(not shutil.which("openssl") or not os.path.exists("/usr/sbin/opendkim"), reason="needs openssl and opendkim")

KEYS = [
    {"key_selector": "s1-hub", "algorithm": "rsa", "active": True},
    {"key_selector": "s1-hub-ed25519", "algorithm": "ed25519", "active": True},
]


@pytest.fixture
def host(tmp_path, monkeypatch):
    events = []
    running = set()
    real_paths = _dkim.paths

    def paths(name, config_dir):
        return dict(real_paths(name, config_dir), run_dir=str(tmp_path / "run"))

    monkeypatch.setattr(opendkim._dkim, "paths", paths)
    monkeypatch.setattr(opendkim, "_owner", lambda module: (os.getuid(), os.getgid()))
    monkeypatch.setattr(opendkim._Signer, "running", lambda self: self.files["algorithm"] in running)
    monkeypatch.setattr(opendkim._Signer, "unit_text", lambda self: None)

    def recorder(action):
        def record(self):
            events.append((action, self.files["algorithm"]))
            if action == "start":
                running.add(self.files["algorithm"])
            elif action == "stop":
                running.discard(self.files["algorithm"])
        return record

    for action in ("start", "reload", "stop"):
        monkeypatch.setattr(opendkim._Signer, action, recorder(action))
    return {"dir": str(tmp_path / "dkim"), "events": events}


def run(host, check_mode=False, **params):
    args = {"name": "postfix-hub", "config_dir": host["dir"], "domains": ["example.org"], "internal_hosts": ["192.0.2.10"], "keys": KEYS}
    args.update(params)
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            opendkim.main()


def result(capsys):
    return json.loads(capsys.readouterr().out)


def test_bad_input_is_refused_naming_the_option(host, capsys):
    run(host, keys=[{"key_selector": "Bad_Selector", "algorithm": "rsa", "active": True}])
    out = result(capsys)
    assert out["failed"] and out["msg"] == "keys[0].key_selector: 'Bad_Selector' is not a DNS label"
    run(host, domains=[])
    assert result(capsys)["msg"] == "domains: at least one domain to sign for is needed"
    assert not os.path.exists(host["dir"])


def test_check_mode_tells_what_would_happen_and_changes_nothing(host, capsys):
    run(host, check_mode=True)
    out = result(capsys)
    assert out["changed"] and out["generated"] == ["s1-hub", "s1-hub-ed25519"] and out["action"] == "started"
    assert out["milter"] == "inet:127.0.0.1:8891, inet:127.0.0.1:8892"
    assert not os.path.exists(host["dir"]) and host["events"] == []


def test_keys_are_generated_private_and_kept_and_a_second_run_changes_nothing(host, capsys):
    run(host)
    out = result(capsys)
    assert out["changed"] and out["generated"] == ["s1-hub", "s1-hub-ed25519"]
    assert host["events"] == [("start", "rsa"), ("start", "ed25519")]
    keys = os.path.join(host["dir"], "postfix-hub", "keys")
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o700
    for name in ("s1-hub.private", "s1-hub-ed25519.private"):
        assert stat.S_IMODE(os.stat(os.path.join(keys, name)).st_mode) == 0o600
    published = {key["key_selector"]: key["public_key"] for key in out["public_keys"]}
    assert published["s1-hub"].startswith("MIIBIjANBg") and len(published["s1-hub-ed25519"]) == 44
    with open(os.path.join(host["dir"], "postfix-hub", "opendkim-ed25519.conf"), encoding="utf-8") as handle:
        assert "SignatureAlgorithm ed25519-sha256" in handle.read()
    # Never a private key in the result.
    assert "PRIVATE KEY" not in json.dumps(out)

    run(host)
    again = result(capsys)
    assert not again["changed"] and again["generated"] == [] and again["action"] == "none"
    assert {key["key_selector"]: key["public_key"] for key in again["public_keys"]} == published


def test_rotation_publishes_then_signs_then_removes_without_a_restart(host, capsys):
    run(host)
    result(capsys)
    second = [dict(key, active=False) for key in KEYS] + [
        {"key_selector": "s2-hub", "algorithm": "rsa", "active": True},
        {"key_selector": "s2-hub-ed25519", "algorithm": "ed25519", "active": True},
    ]
    run(host, keys=second)
    out = result(capsys)
    assert out["generated"] == ["s2-hub", "s2-hub-ed25519"] and out["action"] == "reloaded"
    with open(os.path.join(host["dir"], "postfix-hub", "signing.table"), encoding="utf-8") as handle:
        assert handle.read() == "*@example.org s2-hub\n"
    run(host, keys=second[2:])
    out = result(capsys)
    assert sorted(out["removed"]) == ["s1-hub", "s1-hub-ed25519"]
    assert sorted(os.listdir(os.path.join(host["dir"], "postfix-hub", "keys"))) == ["s2-hub-ed25519.private", "s2-hub.private"]
    assert ("start", "rsa") in host["events"] and host["events"].count(("start", "rsa")) == 1
    assert ("reload", "rsa") in host["events"]


def test_dropping_ed25519_stops_its_signer_and_removes_its_files(host, capsys):
    run(host)
    result(capsys)
    run(host, keys=KEYS[:1])
    out = result(capsys)
    assert out["milter"] == "inet:127.0.0.1:8891" and out["removed"] == ["s1-hub-ed25519"]
    assert ("stop", "ed25519") in host["events"]
    assert not os.path.exists(os.path.join(host["dir"], "postfix-hub", "opendkim-ed25519.conf"))


def test_read_returns_existing_public_keys_and_names_the_missing(host, capsys):
    run(host, keys=KEYS[:1])
    result(capsys)
    run(host, state="read", keys=KEYS)
    out = result(capsys)
    assert not out["changed"] and out["missing"] == ["s1-hub-ed25519"]
    assert [key["key_selector"] for key in out["public_keys"]] == ["s1-hub"]


def test_report_missing_changes_nothing_without_opendkim(host, capsys, monkeypatch):
    real_exists = os.path.exists
    monkeypatch.setattr(opendkim.os.path, "exists", lambda path: False if path == "/usr/sbin/opendkim" else real_exists(path))
    run(host, report_missing=True)
    out = result(capsys)
    assert out["missing_packages"] == ["opendkim"] and out["changed"] is False
    assert not real_exists(host["dir"]) and host["events"] == []


def test_report_missing_is_silent_when_opendkim_is_there(host, capsys, monkeypatch):
    real_exists = os.path.exists
    monkeypatch.setattr(opendkim.os.path, "exists", lambda path: True if path == "/usr/sbin/opendkim" else real_exists(path))
    run(host, report_missing=True, check_mode=True)
    out = result(capsys)
    assert out["missing_packages"] == [] and out["changed"] is True
