# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import shutil
import subprocess

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dovecot_sasl as sasl

# Written by `doveadm pw -s PBKDF2 -p secret` (Dovecot 2.3.19).
DOVEADM_HASH = "{PBKDF2}$1$YMZkrFqwt8oE0Fok$5000$d76268297a94da5ce43bc2602fd184b8f1ea0fb7"


def test_verifies_a_hash_written_by_doveadm():
    assert sasl.verify_password("secret", DOVEADM_HASH)
    assert not sasl.verify_password("Secret", DOVEADM_HASH)
    assert not sasl.verify_password("secret", DOVEADM_HASH, rounds=10000)


def test_hash_format_matches_dovecot():
    hashed = sasl.hash_password("secret", rounds=5000, salt="YMZkrFqwt8oE0Fok")
    assert hashed == DOVEADM_HASH


@pytest.mark.skipif(not shutil.which("doveadm"), reason="needs Dovecot's doveadm")
def test_dovecot_accepts_our_hash():
    hashed = sasl.hash_password("pa55 w0rd", rounds=5000)
    result = subprocess.run(["doveadm", "pw", "-t", hashed, "-p", "pa55 w0rd"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("bad", ["", "{SHA512-CRYPT}$6$x$y", "{PBKDF2}$1$salt$5000$nothex", None])
def test_other_or_broken_hashes_never_verify(bad):
    assert not sasl.verify_password("secret", bad)


def test_converge_keeps_matching_hashes_byte_for_byte():
    current = "alice:%s\nbob:%s\n" % (DOVEADM_HASH, sasl.hash_password("old"))
    text, changes = sasl.converge_users(current, [{"login": "alice", "password": "secret"}, {"login": "bob", "password": "new"}])
    lines = dict(line.split(":", 1) for line in text.splitlines())
    assert lines["alice"] == DOVEADM_HASH
    assert sasl.verify_password("new", lines["bob"])
    assert changes == {"added": [], "changed": ["bob"], "removed": []}


def test_converge_adds_and_removes_users():
    text, changes = sasl.converge_users("# comment\nold:%s\n" % DOVEADM_HASH, [{"login": "new@example.org", "password": "x"}])
    assert list(sasl.parse_users(text)) == ["new@example.org"]
    assert changes == {"added": ["new@example.org"], "changed": [], "removed": ["old"]}


def test_second_converge_is_a_no_op():
    users = [{"login": "a", "password": "1"}, {"login": "b", "password": "2"}]
    first, dummy = sasl.converge_users("", users)
    second, changes = sasl.converge_users(first, users)
    assert second == first and changes == {"added": [], "changed": [], "removed": []}


def test_masked_users_never_show_hashes():
    assert sasl.masked_users("alice:%s\n" % DOVEADM_HASH) == "alice:********\n"


@pytest.mark.parametrize("login,ok", [("alice@example.org", True), ("a.b-c_d+e", True), ("evil:login", False), ("", False), ("a b", False)])
def test_logins(login, ok):
    assert sasl.valid_login(login) is ok


def test_config_is_authentication_only_and_points_at_the_users_file():
    config = sasl.render_config("postfix-sub", "/etc/dovecot/mailrelay", "/run/dovecot-postfix-sub/auth-postfix")
    assert "protocols =\n" in config
    assert "args = scheme=PBKDF2 username_format=%u /etc/dovecot/mailrelay/postfix-sub.users" in config
    assert "unix_listener /run/dovecot-postfix-sub/auth-postfix {" in config
    assert "base_dir = /run/dovecot-postfix-sub" in config


def test_default_socket_is_outside_the_postfix_queue():
    assert sasl.socket_path("postfix-sub") == "/run/dovecot-postfix-sub/auth-postfix"
