# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""dovecot_sasl's decisions, with the Dovecot processes replaced by recorders.

The real Dovecot runs in the topology integration target; here the module's
files, check mode, diff, secrets and errors are checked without one.
"""

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dovecot_sasl as sasl
from ansible_collections.mailrelay.smtp.plugins.modules import dovecot_sasl

SECRET = "Correct-Horse-9"


class Host:
    """Records the commands the module runs and plays a Dovecot that starts and stops."""

    def __init__(self, doveconf_rc=0):
        self.commands = []
        self.running = False
        self.doveconf_rc = doveconf_rc

    def run_command(self, argv, **kwargs):
        self.commands.append(list(argv))
        if argv[0].endswith("doveconf"):
            return self.doveconf_rc, "", "doveconf: Fatal: broken" if self.doveconf_rc else ""
        if argv[-1] == "stop":
            self.running = False
        return 0, "", ""


@pytest.fixture
def host(tmp_path, monkeypatch):
    fake = Host()
    # A plain function as class attribute: Python passes the module as ``self``.
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, argv, **kw: fake.run_command(argv, **kw))
    monkeypatch.setattr(dovecot_sasl, "_systemd", lambda: False)
    monkeypatch.setattr(dovecot_sasl, "_pid", lambda where: 4242 if fake.running else None)

    def start(self, socket_path):
        fake.commands.append(["start", socket_path])
        fake.running = True

    monkeypatch.setattr(dovecot_sasl._Process, "start", start)
    # The users file belongs to group dovecot; tests run where that group may not exist.
    monkeypatch.setattr(dovecot_sasl, "_group_id", lambda module, group: os.getgid())
    fake.config_dir = str(tmp_path / "dovecot")
    return fake


def run(host, capsys, **args):
    args = dict(dict(name="postfix-sub", config_dir=host.config_dir, users=[{"login": "alice@example.org", "password": SECRET}]), **args)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            dovecot_sasl.main()
    out = capsys.readouterr().out
    return info.value.code, json.loads(out), out


def test_first_run_writes_hashed_users_and_starts(host, capsys):
    code, result, out = run(host, capsys)
    assert code == 0 and result["changed"] is True and result["action"] == "started"
    assert result["users_added"] == ["alice@example.org"]
    users_path = os.path.join(host.config_dir, "postfix-sub.users")
    stored = sasl.parse_users(open(users_path).read())["alice@example.org"]
    assert sasl.verify_password(SECRET, stored)
    assert stat.S_IMODE(os.stat(users_path).st_mode) == 0o640
    assert ["start", "/run/dovecot-postfix-sub/auth-postfix"] in host.commands
    assert SECRET not in out and stored not in out


def test_second_run_changes_nothing_and_runs_nothing(host, capsys):
    run(host, capsys)
    host.commands.clear()
    code, result, dummy = run(host, capsys)
    assert code == 0 and result["changed"] is False and result["action"] == "none"
    assert host.commands == []


def test_check_mode_reports_without_touching(host, capsys):
    code, result, out = run(host, capsys, _ansible_check_mode=True, _ansible_diff=True)
    assert code == 0 and result["changed"] is True and result["action"] == "started"
    assert not os.path.exists(host.config_dir)
    assert host.commands == []
    assert "alice@example.org:********" in out and SECRET not in out


def test_password_change_rewrites_only_that_user_and_shows_it_masked(host, capsys):
    run(host, capsys, users=[{"login": "alice@example.org", "password": SECRET}, {"login": "bob", "password": "b0b-pw"}])
    before = open(os.path.join(host.config_dir, "postfix-sub.users")).read()
    code, result, out = run(host, capsys, _ansible_diff=True,
                            users=[{"login": "alice@example.org", "password": SECRET}, {"login": "bob", "password": "n3w-pw"}])
    after = open(os.path.join(host.config_dir, "postfix-sub.users")).read()
    assert result["users_changed"] == ["bob"] and result["action"] == "none"
    assert before.splitlines()[0] == after.splitlines()[0]
    assert "bob:******** (new password)" in out and "n3w-pw" not in out and "b0b-pw" not in out


def test_invalid_configuration_leaves_everything_as_it_was(host, capsys):
    run(host, capsys)
    config_path = os.path.join(host.config_dir, "postfix-sub.conf")
    before = open(config_path).read()
    host.doveconf_rc = 1
    code, result, dummy = run(host, capsys, socket_user="mail")
    assert code == 1 and "invalid, nothing was changed" in result["msg"]
    assert open(config_path).read() == before
    assert sorted(os.listdir(host.config_dir)) == ["postfix-sub.conf", "postfix-sub.users"]


@pytest.mark.parametrize("args,message", [
    (dict(name="Bad Name"), "name: 'Bad Name' must be"),
    (dict(users=[{"login": "a:b", "password": "x"}]), "users[0].login: 'a:b' may contain only"),
    (dict(users=[{"login": "a", "password": "x"}, {"login": "a", "password": "y"}]), "users[1].login: a is listed twice"),
    (dict(users=[{"login": "a", "password": ""}]), "users[0].password: must not be empty"),
    (dict(hash_iterations=10), "hash_iterations: 10 is too few"),
])
def test_bad_input_fails_before_anything_happens(host, capsys, args, message):
    code, result, dummy = run(host, capsys, **args)
    assert code == 1 and message in result["msg"]
    assert host.commands == [] and not os.path.exists(host.config_dir)


def test_absent_stops_and_removes(host, capsys):
    run(host, capsys)
    host.commands.clear()
    code, result, dummy = run(host, capsys, state="absent")
    assert code == 0 and result["changed"] is True and result["action"] == "stopped"
    assert os.listdir(host.config_dir) == []
    code, result, dummy = run(host, capsys, state="absent")
    assert result["changed"] is False


def test_systemd_unit_survives_reboots():
    unit = sasl.render_unit("postfix-sub", "/etc/dovecot/mailrelay/postfix-sub.conf")
    assert "ExecStart=/usr/sbin/dovecot -F -c /etc/dovecot/mailrelay/postfix-sub.conf" in unit
    assert "WantedBy=multi-user.target" in unit
