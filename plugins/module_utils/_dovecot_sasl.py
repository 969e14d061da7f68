# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Dovecot instance that only authenticates SMTP submission users for Postfix.

Postfix asks Dovecot over a unix socket (``smtpd_sasl_type = dovecot``);
Dovecot checks logins against a passwd-file of hashed passwords. This module
renders that instance's configuration and users file.

Passwords are stored as Dovecot ``{PBKDF2}`` hashes
(``$1$<salt>$<rounds>$<hex PBKDF2-HMAC-SHA1>``, the format ``doveadm pw -s
PBKDF2`` writes), because hashlib can verify them on any Python: an existing
hash is kept when the password still matches it, so a re-run rewrites nothing.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

SCHEME = "{PBKDF2}"
# Dovecot's own default; every login and every idempotence check pays it once per user.
DEFAULT_ROUNDS = 5000
_SALT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_HASH = re.compile(r"^\{PBKDF2\}\$1\$(?P<salt>[^$]+)\$(?P<rounds>[0-9]+)\$(?P<digest>[0-9a-f]{40})$")
# passwd-file fields are separated by ':'; Dovecot has no escaping for it.
_LOGIN = re.compile(r"^[A-Za-z0-9._@+-]{1,128}$")
MASK = "********"


def _salt(length=16):
    return "".join(_SALT_ALPHABET[byte % len(_SALT_ALPHABET)] for byte in os.urandom(length))


def hash_password(password, rounds=DEFAULT_ROUNDS, salt=None):
    salt = salt or _salt()
    digest = hashlib.pbkdf2_hmac("sha1", password.encode("utf-8"), salt.encode("ascii"), rounds).hex()
    return "%s$1$%s$%d$%s" % (SCHEME, salt, rounds, digest)


def verify_password(password, hashed, rounds=None):
    """True when ``hashed`` is a PBKDF2 hash of ``password`` (with ``rounds`` rounds, if given)."""
    match = _HASH.match(hashed or "")
    if not match or (rounds is not None and int(match.group("rounds")) != rounds):
        return False
    expected = hash_password(password, int(match.group("rounds")), match.group("salt"))
    return hmac.compare_digest(expected, hashed)


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


def converge_users(current_text, users, rounds=DEFAULT_ROUNDS):
    """Return (new_text, changes) for the desired ``users`` [{login, password}].

    A user whose stored hash still verifies keeps it byte for byte; others get
    a new hash. ``changes`` lists logins added, changed and removed.
    """
    current = parse_users(current_text)
    lines = []
    changes = {"added": [], "changed": [], "removed": sorted(set(current) - {user["login"] for user in users})}
    for user in sorted(users, key=lambda item: item["login"]):
        login = user["login"]
        stored = current.get(login)
        if stored is not None and verify_password(user["password"], stored, rounds):
            hashed = stored
        else:
            hashed = hash_password(user["password"], rounds)
            changes["added" if stored is None else "changed"].append(login)
        lines.append("%s:%s" % (login, hashed))
    text = "".join(line + "\n" for line in lines)
    return text, changes


def masked_users(text, changed=()):
    """The users file as shown in a diff: logins only, hashes masked; a login in
    ``changed`` shows that its password changed."""
    return "".join("%s:%s%s\n" % (login, MASK, " (new password)" if login in changed else "") for login in parse_users(text))


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


def render_config(name, config_dir, socket_path, socket_user="postfix", socket_group="postfix"):
    """dovecot.conf of an authentication-only instance (no IMAP/POP3, no listener)."""
    where = paths(name, config_dir)
    return "\n".join([
        "# Managed by mailrelay.smtp.dovecot_sasl: SASL authentication for Postfix only.",
        "instance_name = dovecot-%s" % name,
        "base_dir = %s" % where["base_dir"],
        "state_dir = %s" % where["state_dir"],
        "log_path = %s" % where["log"],
        "protocols =",
        "ssl = no",
        "auth_mechanisms = plain login",
        # Postfix offers AUTH only after STARTTLS and tells Dovecot the session is secured.
        "disable_plaintext_auth = yes",
        "passdb {",
        "  driver = passwd-file",
        "  args = scheme=PBKDF2 username_format=%%u %s" % where["users"],
        "}",
        "userdb {",
        "  driver = static",
        "  args = uid=nobody gid=nogroup home=/nonexistent",
        "}",
        "service auth {",
        "  unix_listener %s {" % socket_path,
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
