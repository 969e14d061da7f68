# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nftables_table against the real nft, every command run inside a network namespace of the test's own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mailrelay.smtp.plugins.module_utils import _nftables
from ansible_collections.mailrelay.smtp.plugins.modules import nftables_table

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"), reason="needs root, nft and ip (network namespaces)")


def table_text(ports):
    chain = {"name": "input", "type": "filter", "hook": "input", "priority": "filter", "policy": "accept",
             "rules": [{"comment": "ssh", "protocols": ("tcp",), "dports": ports, "verdict": "accept"}]}
    return _nftables.render_table("inet", "mailrelay", [chain])


class Namespace:
    def __init__(self, name):
        self.name = name
        self.commands = []

    def argv(self, argv):
        # Only the network namespace: ip netns exec also remounts / and /sys, which a chroot refuses.
        return ["nsenter", "--net=/run/netns/" + self.name] + list(argv)


@pytest.fixture
def netns(tmp_path, monkeypatch):
    namespace = Namespace("mailrelay-nftmod-%d-%d" % (os.getpid(), time.monotonic_ns() % 100000))
    subprocess.run(["ip", "netns", "add", namespace.name], check=True)
    real_run_command = basic.AnsibleModule.run_command

    def run_command(self, argv, **kwargs):
        namespace.commands.append(list(argv))
        return real_run_command(self, namespace.argv(argv), **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    namespace.state_dir = str(tmp_path / "state")
    try:
        yield namespace
    finally:
        # Watchdogs still sleeping in the namespace go with it.
        pids = subprocess.run(["ip", "netns", "pids", namespace.name], capture_output=True, text=True, check=False).stdout.split()
        for pid in pids:
            subprocess.run(["kill", pid], check=False)
        subprocess.run(["ip", "netns", "del", namespace.name], check=False)


def run(netns, capsys, **args):
    args = dict(dict(state_dir=netns.state_dir), **args)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            nftables_table.main()
    return info.value.code, json.loads(capsys.readouterr().out)


def listing(netns):
    done = subprocess.run(netns.argv(["nft", "list", "table", "inet", "mailrelay"]), capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


def test_check_mode_shows_the_table_and_loads_nothing(netns, capsys):
    code, result = run(netns, capsys, content=table_text([22]), _ansible_check_mode=True, _ansible_diff=True)
    assert code == 0 and result["changed"] is True
    assert result["diff"]["before"] == "" and 'tcp dport 22 accept comment "ssh"' in result["diff"]["after"]
    assert listing(netns) is None and not os.path.exists(netns.state_dir)


def test_load_then_rerun_changes_nothing_and_the_diff_names_the_changed_rule(netns, capsys):
    code, result = run(netns, capsys, content=table_text([22]))
    assert code == 0 and result["changed"] is True and listing(netns) == table_text([22])
    code, result = run(netns, capsys, content=table_text([22]))
    assert code == 0 and result["changed"] is False and result["diff_lines"] == ""
    code, result = run(netns, capsys, content=table_text([22, 5986]), _ansible_check_mode=True, _ansible_diff=True)
    assert result["changed"] is True and listing(netns) == table_text([22])
    assert [line for line in result["diff_lines"].splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        '-tcp dport 22 accept comment "ssh"', '+tcp dport { 22, 5986 } accept comment "ssh"']


def test_a_definition_nft_refuses_fails_in_check_mode_too_and_changes_nothing(netns, capsys):
    run(netns, capsys, content=table_text([22]))
    broken = table_text([22]).replace("policy accept", "policy maybe")
    for check_mode in (True, False):
        code, result = run(netns, capsys, content=broken, _ansible_check_mode=check_mode)
        assert code == 1 and "nft -c -f" in result["msg"] and "policy maybe" in result["msg"]
    assert listing(netns) == table_text([22])


@pytest.mark.parametrize("args, message", [
    (dict(content="flush ruleset\n"), "content: must be exactly one definition 'table inet mailrelay { ... }'"),
    (dict(name="9lives", content="table inet 9lives {\n}\n"), "name: '9lives' is not a table name"),
    (dict(content=table_text([22]), confirm_timeout=2), "confirm_timeout: must be 0 or between 5 and 3600 seconds, got 2"),
    (dict(), "state is present but all of the following are missing: content"),
])
def test_bad_input_is_refused_before_nft_runs(netns, capsys, args, message):
    code, result = run(netns, capsys, **args)
    assert code == 1 and message in result["msg"]
    assert not any(command[0] == "nft" for command in netns.commands)


def test_confirmed_change_stays_unconfirmed_change_is_restored(netns, capsys):
    run(netns, capsys, content=table_text([22]))
    code, result = run(netns, capsys, content=table_text([22, 2222]), confirm_timeout=5)
    assert result["changed"] is True and result["pending_confirmation"] is True
    code, result = run(netns, capsys, state="confirmed", _ansible_check_mode=True)
    assert result["changed"] is True
    code, result = run(netns, capsys, state="confirmed")
    assert code == 0 and result["changed"] is True
    code, result = run(netns, capsys, content=table_text([23]), confirm_timeout=5)
    assert listing(netns) == table_text([23])
    deadline = time.monotonic() + 20
    while listing(netns) != table_text([22, 2222]) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert listing(netns) == table_text([22, 2222])
    code, result = run(netns, capsys, state="confirmed")
    assert code == 1 and "was not confirmed in time and the previous table was restored" in result["msg"]


def test_absent_removes_only_this_table(netns, capsys):
    run(netns, capsys, content=table_text([22]))
    subprocess.run(netns.argv(["nft", "add", "table", "ip", "someone_else"]), check=True)
    code, result = run(netns, capsys, state="absent")
    assert code == 0 and result["changed"] is True and listing(netns) is None
    code, result = run(netns, capsys, state="absent")
    assert result["changed"] is False
    assert subprocess.run(netns.argv(["nft", "list", "table", "ip", "someone_else"]), capture_output=True, check=False).returncode == 0
