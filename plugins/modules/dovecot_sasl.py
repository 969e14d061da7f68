#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dovecot_sasl
short_description: Run a Dovecot instance that authenticates Postfix submission users
version_added: 0.1.0
description:
  - Converges, in one call, an authentication-only Dovecot instance for one Postfix instance
    (C(smtpd_sasl_type = dovecot)) - its configuration, its passwd-file of hashed passwords and its
    process.
  - Passwords are stored as Dovecot C({PBKDF2}) hashes. A stored hash that still matches its password
    is kept, so a second run changes nothing.
  - The new configuration is checked with C(doveconf -n) before it replaces the live one.
  - On hosts where systemd runs, a unit C(mailrelay-dovecot-NAME.service) is installed and enabled so the
    instance survives a reboot; elsewhere the module starts C(dovecot -c CONFIG) itself.
  - To authenticate against LDAP or Active Directory instead, see C(docs/submission.md).
author: Mailrelay Maintainers (@mailrelay)
attributes:
  check_mode:
    support: full
    description: Reports what would change, including a stopped process, without changing anything.
  diff_mode:
    support: full
    description: Shows the configuration and the list of logins; password hashes are masked.
  platform:
    support: full
    platforms: posix
    description: Runs on the managed host; Debian and Ubuntu are tested.
options:
  name:
    description:
      - Name of the instance, normally the Postfix instance it serves (for example C(postfix-submission)).
      - Lower-case letters, digits, C(-) and C(_).
    type: str
    required: true
  socket_path:
    description:
      - The unix socket Postfix connects to (C(smtpd_sasl_path) of an unchrooted smtpd).
      - Defaults to C(/run/dovecot-NAME/auth-postfix), outside the Postfix queue directory, so that Dovecot
        and Postfix can start in either order.
    type: path
  socket_user:
    description: Owner of the socket (the Postfix mail owner).
    type: str
    default: postfix
  socket_group:
    description: Group of the socket.
    type: str
    default: postfix
  users:
    description: Every user who may authenticate; users not listed are removed.
    type: list
    elements: dict
    default: []
    suboptions:
      login:
        description: Login name (letters, digits and C(. _ @ + -)).
        type: str
        required: true
      password:
        description: Password in clear text; only its hash is written.
        type: str
        required: true
  hash_iterations:
    description:
      - PBKDF2 iterations of new hashes. A stored hash with another number of rounds is replaced.
      - Every login and every run of this module pays this cost once per user.
    type: int
    default: 5000
  config_dir:
    description: Directory of the configuration (C(NAME.conf)) and users (C(NAME.users)) files.
    type: path
    default: /etc/dovecot/mailrelay
  state:
    description: Whether the instance exists.
    type: str
    choices: [present, absent]
    default: present
  service_state:
    description:
      - V(started) starts the instance when it is not running and reloads it when its configuration changed.
      - V(stopped) stops it. Ignored with O(state=absent).
    type: str
    choices: [started, stopped]
    default: started
notes:
  - The users file is re-read by Dovecot when it changes; only a configuration change causes a reload.
seealso:
  - module: mailrelay.smtp.postfix_instance
"""

EXAMPLES = r"""
- name: Authenticate the submission instance's users
  mailrelay.smtp.dovecot_sasl:
    name: postfix-submission
    users:
      - login: alice@example.org
        password: "{{ vault_alice_password }}"

- name: Remove the instance
  mailrelay.smtp.dovecot_sasl:
    name: postfix-submission
    state: absent
"""

RETURN = r"""
config_path:
  description: Path of the instance's configuration file.
  returned: always
  type: str
  sample: /etc/dovecot/mailrelay/postfix-submission.conf
users_path:
  description: Path of the passwd-file.
  returned: always
  type: str
  sample: /etc/dovecot/mailrelay/postfix-submission.users
config_changed:
  description: Whether the configuration file changed (or would change in check mode).
  returned: always
  type: bool
users_added:
  description: Logins added.
  returned: always
  type: list
  elements: str
users_changed:
  description: Logins whose password changed.
  returned: always
  type: list
  elements: str
users_removed:
  description: Logins removed.
  returned: always
  type: list
  elements: str
running:
  description: Whether the instance runs after the call (or would, in check mode).
  returned: always
  type: bool
action:
  description: What was done to the process, V(started), V(reloaded), V(stopped) or V(none).
  returned: always
  type: str
"""

import grp
import os
import re
import subprocess
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dovecot_sasl as sasl

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Bounded wait for the auth socket after a start: 50 x 0.1 s.
_START_POLLS = 50


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _write_atomic(module, path, text, mode, group=None):
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".mailrelay-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        if group:
            os.chown(tmp, 0, _group_id(module, group))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _group_id(module, group):
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        module.fail_json(msg="group %s does not exist; is dovecot-core installed?" % group)


def _systemd():
    return os.path.isdir("/run/systemd/system")


def _pid(where):
    text = _read(where["pid"])
    if not text or not text.strip().isdigit():
        return None
    pid = int(text.strip())
    cmdline = _read("/proc/%d/cmdline" % pid) or ""
    return pid if "dovecot" in cmdline else None


def _log_tail(where, lines=5):
    text = _read(where["log"]) or ""
    return " | ".join(text.strip().splitlines()[-lines:])


class _Process:
    """Start/stop/reload through systemd when it runs, otherwise directly."""

    def __init__(self, module, name, where):
        self.module = module
        self.name = name
        self.where = where
        self.systemd = _systemd()

    def running(self):
        if self.systemd:
            rc, dummy, dummy2 = self.module.run_command(["systemctl", "is-active", "--quiet", self.where["unit"]])
            return rc == 0
        return _pid(self.where) is not None

    def unit_text(self):
        """The systemd unit to write, or None when it is up to date or systemd does not run."""
        if not self.systemd:
            return None
        text = sasl.render_unit(self.name, self.where["config"])
        return None if _read(self._unit_path()) == text else text

    def install_unit(self, text):
        """Write and enable the systemd unit."""
        _write_atomic(self.module, self._unit_path(), text, 0o644)
        self._run(["systemctl", "daemon-reload"])
        self._run(["systemctl", "enable", self.where["unit"]])

    def _unit_path(self):
        return "/etc/systemd/system/" + self.where["unit"]

    def _run(self, argv):
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            self.module.fail_json(msg="%s failed: %s %s (log: %s)" % (" ".join(argv), out.strip(), err.strip(), _log_tail(self.where)))

    def start(self, socket_path):
        if self.systemd:
            self._run(["systemctl", "start", self.where["unit"]])
        else:
            # Dovecot keeps inherited stdout open when it daemonizes, which would hang a
            # captured run_command: give it /dev/null instead.
            with open(os.devnull, "r+b") as null:
                rc = subprocess.call(["/usr/sbin/dovecot", "-c", self.where["config"]], stdin=null, stdout=null, stderr=null)
            if rc != 0:
                self.module.fail_json(msg="dovecot did not start (rc=%s): %s" % (rc, _log_tail(self.where)))
        for dummy in range(_START_POLLS):
            if os.path.exists(socket_path):
                return
            time.sleep(0.1)
        self.module.fail_json(msg="dovecot started but %s did not appear: %s" % (socket_path, _log_tail(self.where)))

    def reload(self):
        if self.systemd:
            self._run(["systemctl", "reload", self.where["unit"]])
        else:
            self._run(["/usr/bin/doveadm", "-c", self.where["config"], "reload"])

    def stop(self):
        if self.systemd:
            self._run(["systemctl", "disable", "--now", self.where["unit"]])
            return
        pid = _pid(self.where)
        if pid:
            self._run(["/usr/bin/doveadm", "-c", self.where["config"], "stop"])
            for dummy in range(_START_POLLS):
                if _pid(self.where) is None:
                    return
                time.sleep(0.1)
            self.module.fail_json(msg="dovecot instance %s (pid %d) did not stop" % (self.name, pid))


def _validate(module):
    params = module.params
    if not _NAME.match(params["name"]):
        module.fail_json(msg="name: %r must be lower-case letters, digits, '-' and '_'" % params["name"])
    if params["hash_iterations"] < 1000:
        module.fail_json(msg="hash_iterations: %d is too few; use at least 1000" % params["hash_iterations"])
    seen = set()
    for index, user in enumerate(params["users"]):
        if not sasl.valid_login(user["login"]):
            module.fail_json(msg="users[%d].login: %r may contain only letters, digits and . _ @ + -" % (index, user["login"]))
        if user["login"] in seen:
            module.fail_json(msg="users[%d].login: %s is listed twice" % (index, user["login"]))
        if not user["password"]:
            module.fail_json(msg="users[%d].password: must not be empty" % index)
        seen.add(user["login"])


def _check_config(module, text, config_dir):
    """doveconf -n on a staged copy, so a bad configuration never goes live."""
    os.makedirs(config_dir, mode=0o755, exist_ok=True)
    fd, stage = tempfile.mkstemp(prefix=".mailrelay-stage-", suffix=".conf", dir=config_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        rc, dummy, err = module.run_command(["/usr/bin/doveconf", "-c", stage, "-n"])
        if rc != 0:
            module.fail_json(msg="the new Dovecot configuration is invalid, nothing was changed: %s" % err.strip())
    finally:
        os.unlink(stage)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            socket_path=dict(type="path"),
            socket_user=dict(type="str", default="postfix"),
            socket_group=dict(type="str", default="postfix"),
            users=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    login=dict(type="str", required=True),
                    password=dict(type="str", required=True, no_log=True),
                ),
            ),
            hash_iterations=dict(type="int", default=sasl.DEFAULT_ROUNDS),
            config_dir=dict(type="path", default="/etc/dovecot/mailrelay"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            service_state=dict(type="str", choices=["started", "stopped"], default="started"),
        ),
        supports_check_mode=True,
    )
    _validate(module)
    params = module.params
    name = params["name"]
    where = sasl.paths(name, params["config_dir"])
    process = _Process(module, name, where)
    result = dict(
        changed=False,
        config_path=where["config"],
        users_path=where["users"],
        config_changed=False,
        users_added=[],
        users_changed=[],
        users_removed=[],
        action="none",
    )
    current_config = _read(where["config"])
    current_users = _read(where["users"])
    running = process.running()

    if params["state"] == "absent":
        existed = current_config is not None or current_users is not None or running
        if existed and not module.check_mode:
            if running:
                process.stop()
            for path in (where["config"], where["users"]):
                if os.path.exists(path):
                    os.unlink(path)
        result.update(
            changed=existed,
            running=False,
            action="stopped" if running else "none",
            users_removed=sorted(sasl.parse_users(current_users)),
            diff=dict(before=(current_config or "") + sasl.masked_users(current_users), after=""),
        )
        module.exit_json(**result)

    socket_path = params["socket_path"] or sasl.socket_path(name)
    config = sasl.render_config(name, params["config_dir"], socket_path, params["socket_user"], params["socket_group"])
    users_text, changes = sasl.converge_users(current_users, params["users"], params["hash_iterations"])
    config_changed = config != current_config
    users_changed = users_text != (current_users or "")
    result.update(
        config_changed=config_changed,
        users_added=changes["added"],
        users_changed=changes["changed"],
        users_removed=changes["removed"],
        diff=[
            dict(before_header=where["config"], after_header=where["config"], before=current_config or "", after=config),
            dict(
                before_header=where["users"] + " (hashes masked)",
                after_header=where["users"] + " (hashes masked)",
                before=sasl.masked_users(current_users),
                after=sasl.masked_users(users_text, changes["changed"]),
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
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)

    if config_changed:
        _check_config(module, config, params["config_dir"])
        _write_atomic(module, where["config"], config, 0o644)
    if users_changed:
        # Readable by Dovecot's auth process (user dovecot), by nobody else.
        _write_atomic(module, where["users"], users_text, 0o640, group="dovecot")
    if unit_text is not None:
        process.install_unit(unit_text)
    if action == "started":
        process.start(socket_path)
    elif action == "reloaded":
        process.reload()
    elif action == "stopped":
        process.stop()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
