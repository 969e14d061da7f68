# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Dovecot instance that only authenticates SMTP submission users for Postfix.

Postfix asks Dovecot over a unix socket (``smtpd_sasl_type = dovecot``);
Dovecot checks logins against a passwd-file of hashed passwords. This module
renders that instance's configuration (Dovecot 2.3 or 2.4 format, chosen by
the version installed) and users file, and converges files and process
through a host adapter (``LocalHost`` on the managed host, a fake in tests).

Passwords are stored as ``{SHA512-CRYPT}`` hashes with a high round count:
Dovecot 2.3 and 2.4 both verify them through libc's crypt(), and this file
computes them with libc's own crypt() through ctypes where the host has
libcrypt, with hashlib alone otherwise (Python 3.13 has no ``crypt`` module, and
ARGON2ID would need a third-party library on every managed host); both give the
same string, libc's in a fraction of the time (a re-run verifies every hash). A stored
hash is kept while its password and round count still match, so a re-run
rewrites nothing; any other stored hash (for example the ``{PBKDF2}`` hashes of
earlier releases) is replaced on the next run.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import grp
import hashlib
import hmac
import os
import re
import subprocess
import tempfile
import threading
import time

from ansible_collections.mailrelay.smtp.plugins.module_utils._local_files import text_or_none
from ansible_collections.mailrelay.smtp.plugins.module_utils._validate import ONE_LINE, has_line_break

SCHEME = "SHA512-CRYPT"
# 20 times glibc's default: about 0.2 s per hash in Python (every run checks
# each user once), a few tens of milliseconds per login in Dovecot.
DEFAULT_ROUNDS = 100000
MIN_ROUNDS = 5000
MAX_ROUNDS = 999999999  # the upper bound of SHA-crypt's rounds= field
_B64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SHA512_CRYPT = re.compile(
    r"^\{SHA512-CRYPT\}\$6\$rounds=(?P<rounds>[0-9]+)\$(?P<salt>[./0-9A-Za-z]{1,16})\$(?P<digest>[./0-9A-Za-z]{86})$")
# Written by earlier releases of this collection (the ``doveadm pw -s PBKDF2`` format); only recognised to report an upgrade.
_LEGACY_PBKDF2 = re.compile(r"^\{PBKDF2\}\$1\$(?P<salt>[^$]+)\$(?P<rounds>[0-9]+)\$(?P<digest>[0-9a-f]{40})$")
# Byte triples of the final SHA-512 digest, in the order SHA-crypt encodes them.
_ENCODING_ORDER = ((0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
                   (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
                   (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41))
# passwd-file fields are separated by ':'; Dovecot has no escaping for it.
_LOGIN = re.compile(r"^[A-Za-z0-9._@+-]{1,128}$")
MASK = "********"
# The oldest format of each configuration syntax, so every 2.4.x accepts the file
# and a Dovecot update does not rewrite it.
CONFIG_VERSION_24 = "2.4.0"
# Bounded waits: 50 x 0.1 s for the auth socket after a start or for a stop.
POLLS = (0.1, 50)


class SaslError(Exception):
    """A step failed; the message says which and why."""


# -- password hashes ----------------------------------------------------------

def _repeated(data, length):
    return (data * (length // len(data) + 1))[:length]


def sha512_crypt(password, salt, rounds):
    """The SHA-crypt ``$6$`` string of ``password`` (Drepper's specification, as glibc computes it)."""
    key = password.encode("utf-8")
    salt_bytes = salt.encode("ascii")[:16]
    sha = hashlib.sha512
    alternate = sha(key + salt_bytes + key).digest()
    context = sha(key + salt_bytes + _repeated(alternate, len(key)))
    length = len(key)
    while length:
        context.update(alternate if length & 1 else key)
        length >>= 1
    digest = context.digest()
    key_sequence = _repeated(sha(key * len(key)).digest(), len(key)) if key else b""
    salt_sequence = _repeated(sha(salt_bytes * (16 + digest[0])).digest(), len(salt_bytes))
    # The rounds repeat a pattern of 42 steps; precomputing what goes around the
    # previous digest in each step halves the time spent in Python.
    steps = []
    for step in range(42):
        middle = (salt_sequence if step % 3 else b"") + (key_sequence if step % 7 else b"")
        steps.append((key_sequence + middle, None) if step & 1 else (None, middle + key_sequence))
    full, rest = divmod(rounds, 42)
    for pattern in [steps] * full + [steps[:rest]]:
        for before, after in pattern:
            digest = sha(before + digest).digest() if after is None else sha(digest + after).digest()
    encoded = []
    for first, second, third in _ENCODING_ORDER:
        value = (digest[first] << 16) | (digest[second] << 8) | digest[third]
        for dummy in range(4):
            encoded.append(_B64[value & 63])
            value >>= 6
    value = digest[63]
    for dummy in range(2):
        encoded.append(_B64[value & 63])
        value >>= 6
    return "$6$rounds=%d$%s$%s" % (rounds, salt_bytes.decode("ascii"), "".join(encoded))


_LIBCRYPT = []
# crypt(3) writes its answer to one static buffer: one call at a time.
_LIBCRYPT_LOCK = threading.Lock()


def _libc_crypt():
    """libc's crypt(3) (libxcrypt), or None when the host has none; looked up once."""
    if not _LIBCRYPT:
        function = None
        try:
            name = ctypes.util.find_library("crypt")
            if name:
                function = ctypes.CDLL(name).crypt
                function.restype = ctypes.c_char_p
                function.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        except (OSError, AttributeError):
            function = None
        _LIBCRYPT.append(function)
    return _LIBCRYPT[0]


def libc_sha512_crypt(password, salt, rounds):
    """``sha512_crypt`` computed by libc's crypt(), or None when libc cannot (no libcrypt, a NUL in the password)."""
    function = _libc_crypt()
    key = password.encode("utf-8")
    if function is None or b"\0" in key:
        return None
    salt_bytes = salt.encode("ascii")[:16]
    with _LIBCRYPT_LOCK:
        result = function(key, b"$6$rounds=%d$%s$" % (rounds, salt_bytes))
    prefix = "$6$rounds=%d$%s$" % (rounds, salt_bytes.decode("ascii"))
    text = result.decode("ascii", "replace") if result else ""
    # Anything but the expected form (an old libc that ignores rounds=, a failure marker) falls back to Python.
    return text if text.startswith(prefix) and len(text) == len(prefix) + 86 else None


def _salt(length=16):
    return "".join(_B64[byte % len(_B64)] for byte in os.urandom(length))


def hash_password(password, rounds=DEFAULT_ROUNDS, salt=None):
    salt = salt or _salt()
    return "{%s}%s" % (SCHEME, libc_sha512_crypt(password, salt, rounds) or sha512_crypt(password, salt, rounds))


def hash_rounds(hashed):
    """Rounds of a ``{SHA512-CRYPT}`` hash written by this module, or None for any other string."""
    match = _SHA512_CRYPT.match(hashed or "")
    return int(match.group("rounds")) if match else None


def verify_password(password, hashed, rounds=None):
    """True when ``hashed`` is a ``{SHA512-CRYPT}`` hash of ``password`` (with ``rounds`` rounds, if given)."""
    match = _SHA512_CRYPT.match(hashed or "")
    if not match or (rounds is not None and int(match.group("rounds")) != rounds):
        return False
    expected = hash_password(password, int(match.group("rounds")), match.group("salt"))
    return hmac.compare_digest(expected, hashed)


class StoredPasswordChecks:
    """verify_password for (password, stored hash, rounds) triples, worked out in a thread from the start.

    Each check is a SHA512-CRYPT of the configured rounds (about 27 ms a user at 100,000 rounds
    in libc), the slowest part of a plan that changes nothing. ctypes releases the GIL while
    libc's crypt() runs, so the caller plans its other work meanwhile.
    """

    def __init__(self, triples):
        self._triples = list(triples)
        self._results = {}
        self._thread = threading.Thread(target=self._check_all, name="stored-password-checks", daemon=True)
        self._thread.start()

    def _check_all(self):
        for password, hashed, rounds in self._triples:
            self._results[(password, hashed, rounds)] = verify_password(password, hashed, rounds)

    def verify(self, password, hashed, rounds=None):
        """verify_password's answer: the one worked out ahead, or worked out now for a triple not given."""
        self._thread.join()
        key = (password, hashed, rounds)
        return self._results[key] if key in self._results else verify_password(password, hashed, rounds)


def check_stored_passwords(host, instances):
    """StoredPasswordChecks of the users of ``instances`` (validated params) that have a stored hash.

    An instance whose users file cannot be read (or is not UTF-8 text) is left out: its converge
    reads it again and says why.
    """
    triples = []
    for params in instances:
        if params["state"] != "present":
            continue
        try:
            stored = parse_users(host.read(paths(params["name"], params["config_dir"])["users"]))
        except (OSError, ValueError):
            continue
        triples.extend((user["password"], stored[user["login"]], params["hash_iterations"])
                       for user in params["users"] or [] if user["login"] in stored)
    return StoredPasswordChecks(triples)


def verify_legacy_password(password, hashed):
    """True when ``hashed`` is an earlier release's ``{PBKDF2}`` hash of ``password``."""
    match = _LEGACY_PBKDF2.match(hashed or "")
    if not match:
        return False
    digest = hashlib.pbkdf2_hmac("sha1", password.encode("utf-8"), match.group("salt").encode("ascii"),
                                 int(match.group("rounds"))).hex()
    return hmac.compare_digest(digest, match.group("digest"))


# -- users file -----------------------------------------------------------------

def valid_login(login):
    return isinstance(login, str) and bool(_LOGIN.match(login))


def parse_users(text):
    """login -> stored hash, in file order; comments and blank lines are ignored."""
    users = {}
    for line in (text or "").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        login, sep, rest = line.partition(":")
        users[login] = rest.split(":", 1)[0] if sep else ""
    return users


def converge_users(current_text, users, rounds=DEFAULT_ROUNDS, verify=verify_password):
    """Return (new_text, changes) for the desired ``users`` [{login, password}].

    A user whose stored hash verifies with ``rounds`` rounds (``verify``: verify_password or
    StoredPasswordChecks.verify) keeps it byte for byte; others get a new hash. ``changes``
    lists logins added, changed (password changed), rehashed (same password, hash replaced
    because its scheme or round count is not the current one) and removed.
    """
    current = parse_users(current_text)
    lines = []
    changes = {"added": [], "changed": [], "rehashed": [],
               "removed": sorted(set(current) - {user["login"] for user in users})}
    for user in sorted(users, key=lambda item: item["login"]):
        login = user["login"]
        stored = current.get(login)
        if stored is not None and verify(user["password"], stored, rounds):
            hashed = stored
        else:
            hashed = hash_password(user["password"], rounds)
            if stored is None:
                changes["added"].append(login)
            elif verify_password(user["password"], stored) or verify_legacy_password(user["password"], stored):
                changes["rehashed"].append(login)
            else:
                changes["changed"].append(login)
        lines.append("%s:%s" % (login, hashed))
    text = "".join(line + "\n" for line in lines)
    return text, changes


def masked_users(text, changed=(), rehashed=()):
    """The users file as shown in a diff: logins only, hashes masked; a login in
    ``changed`` shows that its password changed, one in ``rehashed`` that its hash was renewed."""
    def note(login):
        if login in changed:
            return " (new password)"
        if login in rehashed:
            return " (new %s hash)" % SCHEME
        return ""
    return "".join("%s:%s%s\n" % (login, MASK, note(login)) for login in parse_users(text))


# -- configuration --------------------------------------------------------------

def config_format(version_text):
    """'2.3' or '2.4': the configuration syntax of the Dovecot whose ``dovecot --version`` said ``version_text``."""
    match = re.match(r"^\s*(\d+)\.(\d+)", version_text or "")
    if not match:
        raise SaslError("cannot tell the Dovecot version from %r" % (version_text or "").strip())
    version = (int(match.group(1)), int(match.group(2)))
    if version < (2, 3):
        raise SaslError("Dovecot %d.%d is too old; 2.3 or later is needed" % version)
    return "2.3" if version == (2, 3) else "2.4"


def socket_path(name):
    """Default socket Postfix talks to: outside the Postfix queue, so either can start first."""
    return "/run/dovecot-%s/auth-postfix" % name


def paths(name, config_dir):
    """Where instance ``name`` keeps its files."""
    return {
        "config": os.path.join(config_dir, name + ".conf"),
        "users": os.path.join(config_dir, name + ".users"),
        "base_dir": "/run/dovecot-%s" % name,
        "state_dir": "/var/lib/dovecot-%s" % name,
        "log": "/var/log/dovecot-%s.log" % name,
        "pid": "/run/dovecot-%s/master.pid" % name,
        "unit": "mailrelay-dovecot-%s.service" % name,
    }


def render_config(name, config_dir, socket_path, socket_user="postfix", socket_group="postfix", syntax="2.3"):
    """dovecot.conf of an authentication-only instance (no IMAP/POP3, no listener) in ``syntax`` 2.3 or 2.4.

    Both say the same: one passwd-file passdb of {SHA512-CRYPT} hashes, user
    names looked up as given (lower-cased, Dovecot's default), plain-text
    mechanisms only on a secured session (Postfix offers AUTH only after
    STARTTLS and tells Dovecot so), and one socket for Postfix.
    """
    where = paths(name, config_dir)
    header = ["# Managed by mailrelay.smtp.dovecot_sasl: SASL authentication for Postfix only (Dovecot %s syntax)." % syntax]
    common = [
        "instance_name = dovecot-%s" % name,
        "base_dir = %s" % where["base_dir"],
        "state_dir = %s" % where["state_dir"],
        "log_path = %s" % where["log"],
        "protocols =",
        "ssl = no",
        "auth_mechanisms = plain login",
    ]
    if syntax == "2.3":
        body = [
            "disable_plaintext_auth = yes",
            "passdb {",
            "  driver = passwd-file",
            "  args = scheme=%s username_format=%%u %s" % (SCHEME, where["users"]),
            "}",
            # 2.3's auth process refuses to start without a userdb; SASL never asks it.
            "userdb {",
            "  driver = static",
            "  args = uid=nobody gid=nogroup home=/nonexistent",
            "}",
        ]
    elif syntax == "2.4":
        # 2.4 wants the version first, renamed disable_plaintext_auth and made the
        # passdb driver part of the section name; it needs no userdb for SASL.
        header += ["dovecot_config_version = %s" % CONFIG_VERSION_24,
                   "dovecot_storage_version = %s" % CONFIG_VERSION_24]
        body = [
            "auth_allow_cleartext = no",
            "passdb passwd-file {",
            "  passwd_file_path = %s" % where["users"],
            "  default_password_scheme = %s" % SCHEME,
            "}",
        ]
    else:
        raise SaslError("unknown Dovecot configuration syntax %r" % syntax)
    # Dovecot warns about listener paths inside base_dir: they are relative there.
    prefix = where["base_dir"] + "/"
    listener = socket_path[len(prefix):] if socket_path.startswith(prefix) else socket_path
    return "\n".join(header + common + body + [
        "service auth {",
        "  unix_listener %s {" % listener,
        "    mode = 0660",
        "    user = %s" % socket_user,
        "    group = %s" % socket_group,
        "  }",
        "}",
        "",
    ])


def render_unit(name, config_path):
    """A systemd unit, so the instance comes back after a reboot on systemd hosts."""
    return "\n".join([
        "# Managed by mailrelay.smtp.dovecot_sasl",
        "[Unit]",
        "Description=Dovecot SASL authentication for Postfix (%s)" % name,
        "After=network.target",
        "Before=postfix.service",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=/usr/sbin/dovecot -F -c %s" % config_path,
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


# -- the host -------------------------------------------------------------------

class LocalHost:
    """Files and processes of the machine the module runs on.

    ``run_command(argv)`` and ``atomic_move(src, dest)`` are the module's
    (AnsibleModule.run_command / atomic_move), so this file needs no Ansible import.
    """

    DOVECOT = "/usr/sbin/dovecot"
    DOVECONF = "/usr/bin/doveconf"
    DOVEADM = "/usr/bin/doveadm"
    UNIT_DIR = "/etc/systemd/system"

    def __init__(self, run_command, atomic_move):
        self._run_command = run_command
        self._atomic_move = atomic_move

    read = staticmethod(text_or_none)

    @staticmethod
    def exists(path):
        return os.path.exists(path)

    @staticmethod
    def group_id(group):
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            raise SaslError("group %s does not exist; is dovecot-core installed?" % group)

    def write(self, path, text, mode, group=None):
        """Replace ``path`` with ``text`` atomically, ``mode`` and root:``group`` from the first byte on."""
        directory = os.path.dirname(path)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        gid = self.group_id(group) if group else 0
        if not os.path.exists(path):
            # atomic_move gives a file it creates the umask's mode for a moment;
            # an empty placeholder with the final mode avoids that window.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            os.fchmod(fd, mode)
            os.fchown(fd, 0, gid)
            os.close(fd)
        fd, staged = tempfile.mkstemp(prefix=".mailrelay-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                os.fchmod(handle.fileno(), mode)
                os.fchown(handle.fileno(), 0, gid)
            self._atomic_move(staged, path)
        finally:
            if os.path.exists(staged):
                os.unlink(staged)
        os.chmod(path, mode)
        os.chown(path, 0, gid)

    @staticmethod
    def file_state(path):
        """``(bytes, mode, uid, gid)`` of ``path``, or None when it does not exist: what a rollback writes back."""
        try:
            with open(path, "rb") as handle:
                info = os.fstat(handle.fileno())
                return handle.read(), info.st_mode & 0o7777, info.st_uid, info.st_gid
        except FileNotFoundError:
            return None

    def put_back(self, path, state):
        """Make ``path`` what ``file_state`` saw: the same bytes, mode and owner, or no file."""
        if state is None:
            self.remove(path)
            return
        data, mode, uid, gid = state
        directory = os.path.dirname(path)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd, staged = tempfile.mkstemp(prefix=".mailrelay-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                os.fchmod(handle.fileno(), mode)
                os.fchown(handle.fileno(), uid, gid)
            self._atomic_move(staged, path)
        finally:
            if os.path.exists(staged):
                os.unlink(staged)
        os.chmod(path, mode)
        os.chown(path, uid, gid)

    @staticmethod
    def remove(path):
        try:
            os.unlink(path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise

    def run(self, argv):
        rc, out, err = self._run_command(argv)
        return rc, out or "", err or ""

    @staticmethod
    def systemd():
        return os.path.isdir("/run/systemd/system")

    @staticmethod
    def spawn(argv):
        """Run a daemonizing command with stdin/stdout/stderr on /dev/null; return its exit status.

        Dovecot keeps inherited stdout open when it daemonizes, which would hang a
        captured run_command.
        """
        with open(os.devnull, "r+b") as null:
            return subprocess.call(argv, stdin=null, stdout=null, stderr=null)

    def pid(self, pid_file):
        """PID in ``pid_file`` when it belongs to a running dovecot, else None."""
        text = self.read(pid_file)
        if not text or not text.strip().isdigit():
            return None
        pid = int(text.strip())
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                cmdline = handle.read()
        except OSError:
            return None
        return pid if b"dovecot" in cmdline else None

    @staticmethod
    def sleep(seconds):
        time.sleep(seconds)


def _log_tail(host, where, lines=5):
    text = host.read(where["log"]) or ""
    return " | ".join(text.strip().splitlines()[-lines:])


class _Process:
    """Start/stop/reload through systemd when it runs, otherwise directly."""

    def __init__(self, host, name, where):
        self.host = host
        self.name = name
        self.where = where
        self.systemd = host.systemd()

    def _run(self, argv):
        rc, out, err = self.host.run(argv)
        if rc != 0:
            raise SaslError("%s failed: %s %s (log: %s)" % (" ".join(argv), out.strip(), err.strip(), _log_tail(self.host, self.where)))
        return out

    def running(self):
        if self.systemd:
            rc, dummy, dummy2 = self.host.run(["systemctl", "is-active", "--quiet", self.where["unit"]])
            return rc == 0
        return self.host.pid(self.where["pid"]) is not None

    def unit_path(self):
        return os.path.join(self.host.UNIT_DIR, self.where["unit"])

    def unit_text(self):
        """The systemd unit to write, or None when it is up to date or systemd does not run."""
        if not self.systemd:
            return None
        text = render_unit(self.name, self.where["config"])
        return None if self.host.read(self.unit_path()) == text else text

    def install_unit(self, text):
        self.host.write(self.unit_path(), text, 0o644)
        self._run(["systemctl", "daemon-reload"])
        self._run(["systemctl", "enable", self.where["unit"]])

    def start(self, socket):
        if self.systemd:
            self._run(["systemctl", "start", self.where["unit"]])
        else:
            rc = self.host.spawn([self.host.DOVECOT, "-c", self.where["config"]])
            if rc != 0:
                raise SaslError("dovecot did not start (rc=%s): %s" % (rc, _log_tail(self.host, self.where)))
        interval, polls = POLLS
        for dummy in range(polls):
            if self.host.exists(socket):
                return
            self.host.sleep(interval)
        raise SaslError("dovecot started but %s did not appear: %s" % (socket, _log_tail(self.host, self.where)))

    def reload(self):
        if self.systemd:
            self._run(["systemctl", "reload", self.where["unit"]])
        else:
            self._run([self.host.DOVEADM, "-c", self.where["config"], "reload"])

    def stop(self):
        if self.systemd:
            self._run(["systemctl", "disable", "--now", self.where["unit"]])
            return
        pid = self.host.pid(self.where["pid"])
        if pid:
            self._run([self.host.DOVEADM, "-c", self.where["config"], "stop"])
            interval, polls = POLLS
            for dummy in range(polls):
                if self.host.pid(self.where["pid"]) is None:
                    return
                self.host.sleep(interval)
            raise SaslError("dovecot instance %s (pid %d) did not stop" % (self.name, pid))


# -- converge -------------------------------------------------------------------

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def validate(params):
    """Problems of the options, each naming its field; empty when they are usable."""
    problems = []
    if not _NAME.match(params["name"] or ""):
        problems.append("name: %r must be lower-case letters, digits, '-' and '_'" % params["name"])
    rounds = params["hash_iterations"]
    if rounds < MIN_ROUNDS:
        problems.append("hash_iterations: %d is too few; use at least %d" % (rounds, MIN_ROUNDS))
    elif rounds > MAX_ROUNDS:
        problems.append("hash_iterations: %d is more than SHA512-CRYPT allows (%d)" % (rounds, MAX_ROUNDS))
    seen = set()
    for index, user in enumerate(params["users"]):
        if not valid_login(user["login"]):
            problems.append("users[%d].login: %r may contain only letters, digits and . _ @ + -" % (index, user["login"]))
        elif user["login"] in seen:
            problems.append("users[%d].login: %s is listed twice" % (index, user["login"]))
        if not user["password"]:
            problems.append("users[%d].password: must not be empty" % index)
        elif has_line_break(user["password"]):
            problems.append("users[%d].password: %s" % (index, ONE_LINE))
        seen.add(user["login"])
    return problems


def installed_syntax(host):
    """The configuration syntax ('2.3' or '2.4') of the Dovecot installed on ``host``."""
    if not host.exists(host.DOVECOT):
        raise SaslError("%s not found; is dovecot-core installed?" % host.DOVECOT)
    try:
        rc, out, err = host.run([host.DOVECOT, "--version"])
    except OSError as exc:
        raise SaslError("cannot run %s: %s; is dovecot-core installed?" % (host.DOVECOT, exc.strerror))
    if rc != 0:
        raise SaslError("%s --version failed (rc=%d): %s; is dovecot-core installed?" % (host.DOVECOT, rc, (err or out).strip()))
    return config_format(out)


def _check_config(host, text, config_dir):
    """doveconf -n on a staged copy, so a bad configuration never goes live."""
    os.makedirs(config_dir, mode=0o755, exist_ok=True)
    fd, stage = tempfile.mkstemp(prefix=".mailrelay-stage-", suffix=".conf", dir=config_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        rc, out, err = host.run([host.DOVECONF, "-c", stage, "-n"])
        if rc != 0:
            raise SaslError("the new Dovecot configuration is invalid, nothing was changed: %s"
                            % (err.strip() or out.strip()).replace(stage, "the staged configuration"))
    finally:
        os.unlink(stage)


def converge(host, params, check_mode=False, passwords=None):
    """Bring instance ``params['name']`` to ``params``; return the module result (without ``changed`` diff keys missing).

    ``passwords``: StoredPasswordChecks started earlier for these users, if any.

    Raises SaslError, with nothing changed when the problem is found before the
    first write (bad configuration, Dovecot missing).
    """
    name = params["name"]
    where = paths(name, params["config_dir"])
    process = _Process(host, name, where)
    result = dict(
        changed=False,
        config_path=where["config"],
        users_path=where["users"],
        config_changed=False,
        users_added=[],
        users_changed=[],
        users_rehashed=[],
        users_removed=[],
        action="none",
    )
    current_config = host.read(where["config"])
    current_users = host.read(where["users"])
    running = process.running()

    if params["state"] == "absent":
        existed = current_config is not None or current_users is not None or running
        if existed and not check_mode:
            if running:
                process.stop()
            for path in (where["config"], where["users"]):
                host.remove(path)
        result.update(
            changed=existed,
            running=False,
            action="stopped" if running else "none",
            users_removed=sorted(parse_users(current_users)),
            diff=dict(before=(current_config or "") + masked_users(current_users), after=""),
        )
        return result

    syntax = installed_syntax(host)
    socket = params["socket_path"] or socket_path(name)
    config = render_config(name, params["config_dir"], socket, params["socket_user"], params["socket_group"], syntax)
    users_text, changes = converge_users(current_users, params["users"], params["hash_iterations"],
                                         passwords.verify if passwords else verify_password)
    config_changed = config != current_config
    users_changed = users_text != (current_users or "")
    result.update(
        config_changed=config_changed,
        dovecot_syntax=syntax,
        users_added=changes["added"],
        users_changed=changes["changed"],
        users_rehashed=changes["rehashed"],
        users_removed=changes["removed"],
        diff=[
            dict(before_header=where["config"], after_header=where["config"], before=current_config or "", after=config),
            dict(
                before_header=where["users"] + " (hashes masked)",
                after_header=where["users"] + " (hashes masked)",
                before=masked_users(current_users),
                after=masked_users(users_text, changes["changed"], changes["rehashed"]),
            ),
        ],
    )

    want_running = params["service_state"] == "started"
    if want_running and not running:
        action = "started"
    elif want_running and config_changed:
        action = "reloaded"
    elif not want_running and running:
        action = "stopped"
    else:
        action = "none"
    unit_text = process.unit_text()
    result.update(action=action, running=want_running)
    result["changed"] = config_changed or users_changed or action != "none" or unit_text is not None
    if check_mode or not result["changed"]:
        return result

    if config_changed:
        _check_config(host, config, params["config_dir"])
    if users_changed:
        # Readable by Dovecot's auth process (group dovecot), by nobody else.
        host.write(where["users"], users_text, 0o640, group="dovecot")
    if config_changed:
        host.write(where["config"], config, 0o644)
    if unit_text is not None:
        process.install_unit(unit_text)
    if action == "started":
        process.start(socket)
    elif action == "reloaded":
        process.reload()
    elif action == "stopped":
        process.stop()
    return result


# -- one transaction with Postfix ---------------------------------------------------

def snapshot(host, params):
    """What ``restore`` needs to put instance ``params['name']`` back exactly: its files and whether it ran.

    Taken before ``converge`` changes anything, so that a Postfix change that
    fails later in the same transaction leaves the passwd-file byte for byte
    as it was (issue 11: one transaction per host).
    """
    name = params["name"]
    where = paths(name, params["config_dir"])
    process = _Process(host, name, where)
    files = [where["config"], where["users"]]
    if process.systemd:
        files.append(process.unit_path())
    return {
        "name": name,
        "config_dir": params["config_dir"],
        "socket": params.get("socket_path") or socket_path(name),
        "files": [(path, host.file_state(path)) for path in files],
        "running": process.running(),
    }


def restore(host, saved):
    """Put back the files and the process state of ``snapshot``; return what was done (a list of phrases)."""
    where = paths(saved["name"], saved["config_dir"])
    process = _Process(host, saved["name"], where)
    done = []
    changed = [path for path, state in saved["files"] if host.file_state(path) != state]
    for path, state in saved["files"]:
        if path in changed:
            host.put_back(path, state)
    if changed:
        done.append("put back %s" % ", ".join(changed))
    if process.systemd and process.unit_path() in changed:
        process._run(["systemctl", "daemon-reload"])
    running = process.running()
    if saved["running"] and running:
        # Dovecot re-reads a changed passwd-file by itself; the reload also
        # drops its cache and applies a configuration that was put back.
        process.reload()
        done.append("reloaded dovecot-%s" % saved["name"])
    elif saved["running"]:
        process.start(saved["socket"])
        done.append("started dovecot-%s again" % saved["name"])
    elif running:
        process.stop()
        done.append("stopped dovecot-%s again" % saved["name"])
    return done
