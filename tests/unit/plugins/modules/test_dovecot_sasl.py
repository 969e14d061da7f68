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
LEGACY_HASH = "{PBKDF2}$1$YMZkrFqwt8oE0Fok$5000$d76268297a94da5ce43bc2602fd184b8f1ea0fb7"   # of "secret"
VERSIONS = {"2.3": "2.3.19.1 (9b53102964)\n", "2.4": "2.4.1-4 (7d8c0e5759)\n"}


class Host:
    """Records the commands the module runs and plays a Dovecot that starts and stops."""

    def __init__(self, doveconf_rc=0, syntax="2.3"):
        self.commands = []
        self.running = False
        self.doveconf_rc = doveconf_rc
        self.syntax = syntax
        self.moves = []

    def run_command(self, argv, **kwargs):
        self.commands.append(list(argv))
        if argv[-1] == "--version":
            return 0, VERSIONS[self.syntax], ""
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
    real_move = basic.AnsibleModule.atomic_move

    def atomic_move(self, src, dest, **kwargs):
        fake.moves.append(dest)
        return real_move(self, src, dest, **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "atomic_move", atomic_move)
    monkeypatch.setattr(sasl.LocalHost, "systemd", staticmethod(lambda: False))
    monkeypatch.setattr(sasl.LocalHost, "pid", lambda self, pid_file: 4242 if fake.running else None)

    def spawn(argv):
        fake.commands.append(["spawn"] + list(argv))
        fake.running = True
        return 0

    monkeypatch.setattr(sasl.LocalHost, "spawn", staticmethod(spawn))
    monkeypatch.setattr(sasl.LocalHost, "exists", staticmethod(lambda path: fake.running or os.path.exists(path)))
    # The users file belongs to group dovecot; tests run where that group may not exist.
    monkeypatch.setattr(sasl.LocalHost, "group_id", staticmethod(lambda group: os.getgid()))
    fake.config_dir = str(tmp_path / "dovecot")
    return fake


def run(host, capsys, **args):
    args = dict(dict(name="postfix-sub", config_dir=host.config_dir, hash_iterations=5000,
                     users=[{"login": "alice@example.org", "password": SECRET}]), **args)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            dovecot_sasl.main()
    out = capsys.readouterr().out
    return info.value.code, json.loads(out), out


def actions(host):
    """The commands that change something (not the version query)."""
    return [argv for argv in host.commands if argv[-1] != "--version"]


@pytest.mark.parametrize("syntax", ["2.3", "2.4"])
def test_first_run_writes_the_installed_syntax_and_hashed_users_and_starts(host, capsys, syntax):
    host.syntax = syntax
    code, result, out = run(host, capsys)
    assert code == 0 and result["changed"] is True and result["action"] == "started"
    assert result["dovecot_syntax"] == syntax and result["users_added"] == ["alice@example.org"]
    config = open(os.path.join(host.config_dir, "postfix-sub.conf")).read()
    assert ("dovecot_config_version = 2.4.0" in config) is (syntax == "2.4")
    users_path = os.path.join(host.config_dir, "postfix-sub.users")
    stored = sasl.parse_users(open(users_path).read())["alice@example.org"]
    assert sasl.verify_password(SECRET, stored, rounds=5000)
    assert stat.S_IMODE(os.stat(users_path).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(os.path.join(host.config_dir, "postfix-sub.conf")).st_mode) == 0o644
    # both files go live through AnsibleModule.atomic_move, and nothing is left next to them
    assert sorted(host.moves) == sorted([users_path, os.path.join(host.config_dir, "postfix-sub.conf")])
    assert sorted(os.listdir(host.config_dir)) == ["postfix-sub.conf", "postfix-sub.users"]
    assert ["spawn", "/usr/sbin/dovecot", "-c", os.path.join(host.config_dir, "postfix-sub.conf")] in host.commands
    assert SECRET not in out and stored not in out


def test_second_run_changes_nothing_and_runs_nothing(host, capsys):
    run(host, capsys)
    host.commands.clear()
    code, result, dummy = run(host, capsys)
    assert code == 0 and result["changed"] is False and result["action"] == "none"
    assert actions(host) == []


def test_an_upgraded_dovecot_gets_its_syntax_and_a_reload(host, capsys):
    run(host, capsys)
    host.syntax = "2.4"
    code, result, dummy = run(host, capsys)
    assert result["config_changed"] is True and result["action"] == "reloaded" and result["users_changed"] == []
    assert ["/usr/bin/doveadm", "-c", os.path.join(host.config_dir, "postfix-sub.conf"), "reload"] in host.commands


def test_legacy_hashes_are_replaced_on_the_next_run_and_reported(host, capsys):
    os.makedirs(host.config_dir)
    users_path = os.path.join(host.config_dir, "postfix-sub.users")
    with open(users_path, "w") as handle:
        handle.write("alice@example.org:%s\n" % LEGACY_HASH)
    code, result, out = run(host, capsys, _ansible_diff=True, users=[{"login": "alice@example.org", "password": "secret"}])
    assert code == 0 and result["changed"] is True
    assert result["users_rehashed"] == ["alice@example.org"] and result["users_changed"] == []
    stored = sasl.parse_users(open(users_path).read())["alice@example.org"]
    assert sasl.verify_password("secret", stored, rounds=5000)
    assert "alice@example.org:******** (new SHA512-CRYPT hash)" in out and LEGACY_HASH not in out
    code, result, dummy = run(host, capsys, users=[{"login": "alice@example.org", "password": "secret"}])
    assert result["changed"] is False


def test_a_new_round_count_rehashes_every_user(host, capsys):
    run(host, capsys)
    code, result, dummy = run(host, capsys, hash_iterations=6000)
    assert result["users_rehashed"] == ["alice@example.org"] and result["changed"] is True
    stored = sasl.parse_users(open(os.path.join(host.config_dir, "postfix-sub.users")).read())["alice@example.org"]
    assert sasl.hash_rounds(stored) == 6000


def test_check_mode_reports_without_touching(host, capsys):
    code, result, out = run(host, capsys, _ansible_check_mode=True, _ansible_diff=True)
    assert code == 0 and result["changed"] is True and result["action"] == "started"
    assert not os.path.exists(host.config_dir)
    assert actions(host) == []
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
    users_path = os.path.join(host.config_dir, "postfix-sub.users")
    before = open(config_path).read(), open(users_path).read()
    host.doveconf_rc = 1
    code, result, dummy = run(host, capsys, socket_user="mail", users=[{"login": "alice@example.org", "password": "n3w-secret"}])
    assert code == 1 and "invalid, nothing was changed" in result["msg"]
    assert (open(config_path).read(), open(users_path).read()) == before
    assert sorted(os.listdir(host.config_dir)) == ["postfix-sub.conf", "postfix-sub.users"]


def test_dovecot_not_installed_is_named(host, capsys, monkeypatch):
    monkeypatch.setattr(sasl.LocalHost, "DOVECOT", "/nonexistent/sbin/dovecot")
    code, result, dummy = run(host, capsys)
    assert code == 1 and result["msg"] == "/nonexistent/sbin/dovecot not found; is dovecot-core installed?"
    assert actions(host) == [] and not os.path.exists(host.config_dir)


def test_broken_dovecot_is_named(host, capsys, monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, argv, **kw: (127, "", "No such file"))
    code, result, dummy = run(host, capsys)
    assert code == 1 and "is dovecot-core installed?" in result["msg"]
    assert not os.path.exists(host.config_dir)


@pytest.mark.parametrize("args,message", [
    (dict(name="Bad Name"), "name: 'Bad Name' must be"),
    (dict(users=[{"login": "a:b", "password": "x"}]), "users[0].login: 'a:b' may contain only"),
    (dict(users=[{"login": "a", "password": "x"}, {"login": "a", "password": "y"}]), "users[1].login: a is listed twice"),
    (dict(users=[{"login": "a", "password": ""}]), "users[0].password: must not be empty"),
    (dict(hash_iterations=10), "hash_iterations: 10 is too few"),
])
def test_bad_input_fails_before_anything_happens(host, capsys, args, message):
    code, result, out = run(host, capsys, **args)
    assert code == 1 and message in result["msg"]
    assert host.commands == [] and not os.path.exists(host.config_dir)
    assert SECRET not in out


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
