# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dovecot_sasl as sasl

# Written by `doveadm pw -s PBKDF2 -p secret` (Dovecot 2.3.19): what earlier releases stored.
LEGACY_HASH = "{PBKDF2}$1$YMZkrFqwt8oE0Fok$5000$d76268297a94da5ce43bc2602fd184b8f1ea0fb7"
# glibc crypt("Hello world!", "$6$rounds=10000$saltstringsaltstring"), the SHA-crypt specification's test vector.
SPEC_VECTOR = ("$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/"
               "YTBmSK6H9qs/y3RnOaw5v.")
DOVEADM = shutil.which("doveadm") or (os.path.exists("/usr/bin/doveadm") and "/usr/bin/doveadm")
DOVECONF = shutil.which("doveconf") or (os.path.exists("/usr/bin/doveconf") and "/usr/bin/doveconf")


def test_sha512_crypt_matches_the_specification():
    assert sasl.sha512_crypt("Hello world!", "saltstringsaltstring", 10000) == SPEC_VECTOR


@pytest.mark.parametrize("password,salt,rounds", [
    (" ", "ab", 5000), ("x", "abcdefghijklmnop", 5001), ("a" * 100, "s./Zz09", 5041), ("pässwörd", "Q", 5042),
])
def test_sha512_crypt_matches_libc_for_odd_lengths_and_round_counts(password, salt, rounds):
    # The Python of the host may lack crypt (3.13); openssl passwd computes the same function.
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("needs openssl")
    expected = subprocess.run([openssl, "passwd", "-6", "-salt", "rounds=%d$%s" % (rounds, salt), "-stdin"],
                              input=password.encode(), capture_output=True, check=True).stdout.decode().strip()
    if not expected.startswith("$6$rounds="):
        pytest.skip("this openssl does not take rounds= in the salt")
    assert sasl.sha512_crypt(password, salt, rounds) == expected


@pytest.mark.skipif(sasl.libc_sha512_crypt("x", "ab", 5000) is None, reason="needs libcrypt")
@pytest.mark.parametrize("password,salt,rounds", [
    ("Hello world!", "saltstringsaltstring", 10000), (" ", "ab", 5000), ("a" * 100, "s./Zz09", 5041), ("pässwörd", "Q", 100000),
])
def test_libc_and_python_compute_the_same_hash(password, salt, rounds):
    assert sasl.libc_sha512_crypt(password, salt, rounds) == sasl.sha512_crypt(password, salt, rounds)


def test_a_password_libc_cannot_take_is_hashed_in_python():
    assert sasl.libc_sha512_crypt("nul\0inside", "ab", 5000) is None
    hashed = sasl.hash_password("nul\0inside", rounds=5000, salt="ab")
    assert hashed == "{SHA512-CRYPT}" + sasl.sha512_crypt("nul\0inside", "ab", 5000)
    assert sasl.verify_password("nul\0inside", hashed) and not sasl.verify_password("nul", hashed)


@pytest.mark.skipif(not DOVEADM, reason="needs Dovecot's doveadm")
@pytest.mark.parametrize("password", ["pa55 w0rd", "Correct-Horse-9", "ünïcödé:x"])
def test_dovecot_verifies_our_hash_and_rejects_a_wrong_password(password):
    hashed = sasl.hash_password(password, rounds=sasl.DEFAULT_ROUNDS)
    good = subprocess.run([DOVEADM, "pw", "-t", hashed, "-p", password], capture_output=True, text=True, check=False)
    assert good.returncode == 0 and "(verified)" in good.stdout, good.stderr
    bad = subprocess.run([DOVEADM, "pw", "-t", hashed, "-p", password + "x"], capture_output=True, text=True, check=False)
    assert bad.returncode != 0


@pytest.mark.skipif(not DOVEADM, reason="needs Dovecot's doveadm")
def test_we_verify_a_hash_that_dovecot_wrote():
    written = subprocess.run([DOVEADM, "pw", "-s", "SHA512-CRYPT", "-r", "6000", "-p", "secret"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert sasl.verify_password("secret", written, rounds=6000)
    assert not sasl.verify_password("Secret", written)


def test_hash_format():
    hashed = sasl.hash_password("secret", rounds=100000)
    assert hashed.startswith("{SHA512-CRYPT}$6$rounds=100000$") and sasl.hash_rounds(hashed) == 100000
    assert sasl.verify_password("secret", hashed) and sasl.verify_password("secret", hashed, rounds=100000)
    assert not sasl.verify_password("secret", hashed, rounds=5000)


@pytest.mark.parametrize("bad", ["", "{SHA512-CRYPT}$6$x$y", LEGACY_HASH, "{PBKDF2}$1$salt$5000$nothex", None])
def test_other_or_broken_hashes_never_verify(bad):
    assert not sasl.verify_password("secret", bad)


def test_legacy_pbkdf2_hashes_are_recognised():
    assert sasl.verify_legacy_password("secret", LEGACY_HASH)
    assert not sasl.verify_legacy_password("Secret", LEGACY_HASH)


def test_converge_keeps_matching_hashes_byte_for_byte():
    alice = sasl.hash_password("secret", rounds=5000)
    current = "alice:%s\nbob:%s\n" % (alice, sasl.hash_password("old", rounds=5000))
    text, changes = sasl.converge_users(current, [{"login": "alice", "password": "secret"}, {"login": "bob", "password": "new"}], 5000)
    lines = dict(line.split(":", 1) for line in text.splitlines())
    assert lines["alice"] == alice
    assert sasl.verify_password("new", lines["bob"])
    assert changes == {"added": [], "changed": ["bob"], "rehashed": [], "removed": []}


def test_legacy_and_weaker_hashes_are_upgraded_on_the_next_run():
    current = "alice:%s\nbob:%s\ncarol:%s\n" % (LEGACY_HASH, sasl.hash_password("b", rounds=5000), LEGACY_HASH)
    users = [{"login": "alice", "password": "secret"}, {"login": "bob", "password": "b"}, {"login": "carol", "password": "new"}]
    text, changes = sasl.converge_users(current, users, 6000)
    stored = sasl.parse_users(text)
    assert all(sasl.hash_rounds(stored[login]) == 6000 for login in ("alice", "bob", "carol"))
    assert sasl.verify_password("secret", stored["alice"]) and sasl.verify_password("new", stored["carol"])
    assert changes == {"added": [], "changed": ["carol"], "rehashed": ["alice", "bob"], "removed": []}
    again, changes = sasl.converge_users(text, users, 6000)
    assert again == text and changes == {"added": [], "changed": [], "rehashed": [], "removed": []}


def test_stored_password_checks_answer_as_verify_password_does():
    alice = sasl.hash_password("secret", rounds=5000)
    triples = [("secret", alice, 5000), ("wrong", alice, 5000), ("secret", alice, 6000), ("secret", LEGACY_HASH, 5000)]
    checks = sasl.StoredPasswordChecks(triples)
    assert [checks.verify(*triple) for triple in triples] == [True, False, False, False]
    # A triple that was not given ahead is worked out when asked.
    assert checks.verify("secret", alice) is True and checks.verify("secret", alice, 5001) is False


def test_hashes_made_while_checks_run_in_the_thread_are_right():
    # crypt(3) answers in one static buffer: a hash made meanwhile must not get the thread's answer.
    stored = [sasl.hash_password("user-%d" % index, rounds=20000) for index in range(4)]
    checks = sasl.StoredPasswordChecks([("user-%d" % index, hashed, 20000) for index, hashed in enumerate(stored)])
    made = [sasl.hash_password("other-%d" % index, rounds=5000) for index in range(20)]
    assert all(checks.verify("user-%d" % index, hashed, 20000) for index, hashed in enumerate(stored))
    assert all(sasl.verify_password("other-%d" % index, hashed, 5000) for index, hashed in enumerate(made))


def test_converge_with_checks_worked_out_ahead_gives_the_same_plan(tmp_path):
    alice = sasl.hash_password("secret", rounds=5000)
    params = {"name": "sub", "config_dir": str(tmp_path), "state": "present", "hash_iterations": 5000,
              "users": [{"login": "alice", "password": "secret"}, {"login": "bob", "password": "new"}, {"login": "carol", "password": "c"}]}
    users_path = sasl.paths("sub", str(tmp_path))["users"]
    os.makedirs(os.path.dirname(users_path), exist_ok=True)
    with open(users_path, "w") as handle:
        handle.write("alice:%s\nbob:%s\n" % (alice, sasl.hash_password("old", rounds=5000)))
    host = sasl.LocalHost(None, None)
    checks = sasl.check_stored_passwords(host, [params, dict(params, name="gone", state="absent")])
    # Only the users that have a stored hash are checked ahead; an absent instance has none to check.
    assert sorted(triple[0] for triple in checks._triples) == ["new", "secret"]
    with open(users_path) as handle:
        current = handle.read()
    ahead_text, ahead_changes = sasl.converge_users(current, params["users"], 5000, checks.verify)
    text, changes = sasl.converge_users(current, params["users"], 5000)
    assert ahead_changes == changes == {"added": ["carol"], "changed": ["bob"], "rehashed": [], "removed": []}
    ahead = sasl.parse_users(ahead_text)
    assert ahead["alice"] == alice and sasl.verify_password("new", ahead["bob"]) and sasl.verify_password("c", ahead["carol"])


def test_an_unreadable_users_file_is_left_to_the_converge(tmp_path):
    params = {"name": "sub", "config_dir": str(tmp_path), "state": "present", "hash_iterations": 5000,
              "users": [{"login": "alice", "password": "secret"}]}

    class Unreadable(sasl.LocalHost):
        @staticmethod
        def read(path):
            raise PermissionError(13, "Permission denied", path)

    checks = sasl.check_stored_passwords(Unreadable(None, None), [params])
    assert checks._triples == [] and checks.verify("secret", LEGACY_HASH, 5000) is False
    users_path = sasl.paths("sub", str(tmp_path))["users"]
    with open(users_path, "wb") as handle:
        handle.write(b"alice:\xff\xfe\n")
    assert sasl.check_stored_passwords(sasl.LocalHost(None, None), [params])._triples == []


def test_converge_adds_and_removes_users():
    text, changes = sasl.converge_users("# comment\nold:%s\n" % LEGACY_HASH, [{"login": "new@example.org", "password": "x"}], 5000)
    assert list(sasl.parse_users(text)) == ["new@example.org"]
    assert changes == {"added": ["new@example.org"], "changed": [], "rehashed": [], "removed": ["old"]}


def test_masked_users_never_show_hashes():
    assert sasl.masked_users("alice:%s\n" % LEGACY_HASH) == "alice:********\n"
    assert sasl.masked_users("a:x\nb:y\n", changed=["a"], rehashed=["b"]) == \
        "a:******** (new password)\nb:******** (new SHA512-CRYPT hash)\n"


@pytest.mark.parametrize("login,ok", [("alice@example.org", True), ("a.b-c_d+e", True), ("evil:login", False), ("", False), ("a b", False)])
def test_logins(login, ok):
    assert sasl.valid_login(login) is ok


@pytest.mark.parametrize("text,syntax", [
    ("2.3.19.1 (9b53102964)", "2.3"), ("2.3.21 (47349e2482)", "2.3"), ("2.4.1-4 (7d8c0e5759)", "2.4"), ("2.5.0", "2.4"),
])
def test_syntax_follows_the_installed_version(text, syntax):
    assert sasl.config_format(text) == syntax


@pytest.mark.parametrize("text,message", [("2.2.36", "too old"), ("", "cannot tell"), ("dovecot", "cannot tell")])
def test_unknown_versions_are_refused(text, message):
    with pytest.raises(sasl.SaslError, match=message):
        sasl.config_format(text)


def test_23_config_is_authentication_only_and_points_at_the_users_file():
    config = sasl.render_config("postfix-sub", "/etc/dovecot/mailrelay", "/run/dovecot-postfix-sub/auth-postfix", syntax="2.3")
    assert "protocols =\n" in config and "dovecot_config_version" not in config
    assert "args = scheme=SHA512-CRYPT username_format=%u /etc/dovecot/mailrelay/postfix-sub.users" in config
    assert "  unix_listener auth-postfix {" in config
    assert "base_dir = /run/dovecot-postfix-sub" in config
    assert "disable_plaintext_auth = yes" in config


def test_24_config_says_the_same_in_the_new_syntax():
    config = sasl.render_config("postfix-sub", "/etc/dovecot/mailrelay", "/run/dovecot-postfix-sub/auth-postfix", syntax="2.4")
    settings = [line for line in config.splitlines() if line and not line.startswith("#")]
    assert settings[0] == "dovecot_config_version = 2.4.0"
    assert "passdb passwd-file {" in settings and "  passwd_file_path = /etc/dovecot/mailrelay/postfix-sub.users" in settings
    assert "  default_password_scheme = SHA512-CRYPT" in settings
    assert "auth_allow_cleartext = no" in settings and "protocols =" in settings
    # inside base_dir the listener is relative (2.4 warns about the absolute form); elsewhere absolute
    assert "  unix_listener auth-postfix {" in settings
    other = sasl.render_config("postfix-sub", "/etc/dovecot/mailrelay", "/var/spool/postfix-sub/private/auth", syntax="2.4")
    assert "  unix_listener /var/spool/postfix-sub/private/auth {" in other


@pytest.mark.skipif(not DOVECONF, reason="needs Dovecot's doveconf")
def test_the_installed_doveconf_accepts_its_syntax_without_warnings(tmp_path):
    version = subprocess.run(["/usr/sbin/dovecot", "--version"], capture_output=True, text=True, check=True).stdout
    syntax = sasl.config_format(version)
    path = tmp_path / "sub.conf"
    path.write_text(sasl.render_config("postfix-sub", str(tmp_path), "/run/dovecot-postfix-sub/auth-postfix", syntax=syntax))
    result = subprocess.run([DOVECONF, "-c", str(path), "-n"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "Warning" not in result.stderr, result.stderr
    assert "sub.users" in result.stdout


def test_default_socket_is_outside_the_postfix_queue():
    assert sasl.socket_path("postfix-sub") == "/run/dovecot-postfix-sub/auth-postfix"


@pytest.mark.parametrize("params,message", [
    (dict(name="Bad Name"), "name: 'Bad Name' must be"),
    (dict(users=[{"login": "a:b", "password": "x"}]), "users[0].login: 'a:b' may contain only"),
    (dict(users=[{"login": "a", "password": "x"}, {"login": "a", "password": "y"}]), "users[1].login: a is listed twice"),
    (dict(users=[{"login": "a", "password": ""}]), "users[0].password: must not be empty"),
    (dict(users=[{"login": "a", "password": "x\ny"}]), "users[0].password: must be one line"),
    (dict(users=[{"login": "a", "password": "x\x00y"}]), "users[0].password: must be one line"),
    (dict(hash_iterations=10), "hash_iterations: 10 is too few"),
    (dict(hash_iterations=10 ** 10), "hash_iterations: 10000000000 is more than"),
])
def test_validate_names_the_field(params, message):
    full = dict(dict(name="postfix-sub", hash_iterations=sasl.DEFAULT_ROUNDS, users=[]), **params)
    assert any(message in problem for problem in sasl.validate(full))


def test_validate_accepts_good_input():
    assert sasl.validate(dict(name="postfix-sub", hash_iterations=5000, users=[{"login": "a@b.c", "password": "x y"}])) == []


# -- one transaction with Postfix: snapshot and restore ------------------------------

class _TransactionHost(sasl.LocalHost):
    """The real file operations (in a temporary directory), a process that only records what it is told."""

    def __init__(self, running):
        super().__init__(lambda argv: (0, '', ''), os.replace)
        self.is_running = running
        self.calls = []

    @staticmethod
    def systemd():
        return False

    def pid(self, pid_file):
        return 4242 if self.is_running else None

    def run(self, argv):
        self.calls.append(argv[-1])
        if argv[-1] == 'stop':
            self.is_running = False
        return 0, '', ''

    def spawn(self, argv):
        self.calls.append('start')
        self.is_running = True
        return 0

    def exists(self, path):
        return True


def _params(tmp_path):
    return {'name': 'postfix-s', 'config_dir': str(tmp_path), 'socket_path': None}


def test_restore_puts_the_users_file_back_byte_for_byte_and_reloads(tmp_path):
    users = tmp_path / 'postfix-s.users'
    users.write_bytes(b'alice@example.org:{SHA512-CRYPT}$6$rounds=5000$old$hash\n# kept comment\n')
    os.chmod(users, 0o640)
    before = users.read_bytes()
    host = _TransactionHost(running=True)
    saved = sasl.snapshot(host, _params(tmp_path))
    users.write_text('alice@example.org:{SHA512-CRYPT}new\n')
    os.chmod(users, 0o600)
    done = sasl.restore(host, saved)
    assert users.read_bytes() == before
    assert oct(os.stat(users).st_mode & 0o777) == '0o640'
    assert host.calls == ['reload']
    assert done == ['put back %s' % users, 'reloaded dovecot-postfix-s']


def test_restore_removes_files_the_change_created_and_stops_what_it_started(tmp_path):
    host = _TransactionHost(running=False)
    saved = sasl.snapshot(host, _params(tmp_path))
    (tmp_path / 'postfix-s.conf').write_text('new\n')
    (tmp_path / 'postfix-s.users').write_text('alice@example.org:x\n')
    host.is_running = True
    sasl.restore(host, saved)
    assert sorted(os.listdir(tmp_path)) == []
    assert host.calls == ['stop'] and not host.is_running


def test_restore_of_an_unchanged_instance_changes_no_file(tmp_path):
    (tmp_path / 'postfix-s.users').write_text('alice@example.org:x\n')
    host = _TransactionHost(running=True)
    saved = sasl.snapshot(host, _params(tmp_path))
    mtime = os.stat(tmp_path / 'postfix-s.users').st_mtime_ns
    assert sasl.restore(host, saved) == ['reloaded dovecot-postfix-s']
    assert os.stat(tmp_path / 'postfix-s.users').st_mtime_ns == mtime
