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
  - The configuration is written in the syntax of the Dovecot installed on the host (C(dovecot --version)),
    Dovecot 2.3 (Debian 12, Ubuntu 22.04 and 24.04) or Dovecot 2.4 (Debian 13), with the same behaviour.
  - Passwords are stored as Dovecot C({SHA512-CRYPT}) hashes with O(hash_iterations) rounds, which Dovecot
    2.3 and 2.4 both verify. A stored hash that still matches its password and round count is kept, so a
    second run changes nothing.
  - Any other stored hash (the C({PBKDF2}) hashes that earlier releases of this collection wrote, or a
    hash with another round count) is replaced on the next run of the module with the user listed, whether or not the password
    changed; the run reports C(changed) and names the user in RV(users_rehashed).
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
      - SHA512-CRYPT rounds of new hashes (at least 5000). A stored hash with another number of rounds is
        replaced on the next run.
      - Every login and every run of this module pays this cost once per user (about 0.2 s per user in
        Python at the default).
    type: int
    default: 100000
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
users_rehashed:
  description:
    - Logins whose password is unchanged but whose stored hash was replaced because its scheme (for example
      C({PBKDF2}) of earlier releases) or round count is not the current one.
  returned: always
  type: list
  elements: str
users_removed:
  description: Logins removed.
  returned: always
  type: list
  elements: str
dovecot_syntax:
  description: The configuration syntax written, that of the Dovecot installed (V(2.3) or V(2.4)).
  returned: when O(state=present)
  type: str
  sample: "2.4"
running:
  description: Whether the instance runs after the call (or would, in check mode).
  returned: always
  type: bool
action:
  description: What was done to the process, V(started), V(reloaded), V(stopped) or V(none).
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dovecot_sasl as sasl


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
    problems = sasl.validate(module.params)
    if problems:
        module.fail_json(msg="; ".join(problems))
    host = sasl.LocalHost(module.run_command, lambda src, dest: module.atomic_move(src, dest, keep_dest_attrs=False))
    try:
        result = sasl.converge(host, module.params, check_mode=module.check_mode)
    except (sasl.SaslError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
