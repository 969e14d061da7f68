#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nftables_table
short_description: Manage one nftables table of its own, with a check, an atomic load and commit-confirm
version_added: 0.1.0
description:
  - Makes one nftables table (O(family), O(name)) exactly what O(content) defines. Only that table is
    read or written; every other table on the host (its own firewall, a container runtime's) is left
    as it is, and no C(flush ruleset) is ever run.
  - The new table is checked with C(nft -c) first; a definition nft refuses changes nothing. It is then
    loaded with C(nft -f) in one transaction (declare, delete and define the table), so the host is
    never without its rules in between.
  - With O(confirm_timeout), a detached watchdog is started on the host before the load. Unless the
    change is confirmed (O(state=confirmed)) within that many seconds, the watchdog loads the saved
    previous table (or removes a table that did not exist) by itself, so a change that cuts the
    controller off is undone without it ("commit confirmed").
  - O(content) is compared with the listing C(nft list table) prints; write it in that form (the
    M(mailrelay.smtp.nftables_table) renderer of the C(firewall) role does) so a second run changes nothing.
author: Mailrelay Maintainers (@mailrelay)
attributes:
  check_mode:
    support: full
    description: Reports whether the table would change and checks the new definition with C(nft -c) without loading it.
  diff_mode:
    support: full
    description: Shows the table's loaded and wanted rules; the diff lines are exactly the rules that change.
  platform:
    support: full
    platforms: posix
    description: Linux with the C(nft) command (Debian package C(nftables)).
options:
  name:
    description: Name of the table (a letter, then letters, digits, C(_) and C(-); at most 32).
    type: str
    default: mailrelay
  family:
    description: Address family of the table.
    type: str
    choices: [inet, ip, ip6]
    default: inet
  content:
    description:
      - The whole definition, C(table FAMILY NAME { ... }), as C(nft list table) prints it.
      - Required with O(state=present). It may define only this table; C(flush), C(delete), C(include),
        C(define) and other tables are refused.
    type: str
  state:
    description:
      - V(present) makes the table match O(content); V(absent) removes it.
      - V(confirmed) keeps the change a previous call made with O(confirm_timeout), so that its watchdog
        does not restore the previous table. It fails when the watchdog already restored it or is restoring it.
    type: str
    choices: [present, absent, confirmed]
    default: present
  confirm_timeout:
    description:
      - Seconds (5 to 3600) after which the host restores the previous table unless the change is confirmed.
      - V(0) loads without a watchdog.
      - While a change awaits confirmation, another change of the table is refused.
    type: int
    default: 0
  state_dir:
    description: Directory (mode 0700) of the table's new, pending and restored definitions.
    type: path
    default: /var/lib/mailrelay-nftables
notes:
  - The loaded table is not written to C(/etc/nftables.conf); it lasts until the next reboot unless the
    host loads it at boot (the C(firewall) role documents how).
seealso:
  - name: The publishing guide
    description: The rules the firewall role derives from the topology, and the commit-confirm step.
    link: https://example.invalid/mailrelay/smtp/docs/publishing.md
"""

EXAMPLES = r"""
- name: Load the gateway's table; the host puts the previous one back unless confirmed within 60 s
  mailrelay.smtp.nftables_table:
    name: mailrelay
    content: "{{ lookup('ansible.builtin.file', 'gateway.nft') }}"
    confirm_timeout: 60
  register: firewall_table

- name: Reconnect, proving the controller still reaches the host
  ansible.builtin.meta: reset_connection

- name: Keep the change
  mailrelay.smtp.nftables_table:
    name: mailrelay
    state: confirmed
  when: firewall_table.pending_confirmation

- name: Remove the table
  mailrelay.smtp.nftables_table:
    name: mailrelay
    state: absent
"""

RETURN = r"""
table:
  description: The table, as C(FAMILY NAME).
  returned: always
  type: str
  sample: inet mailrelay
diff_lines:
  description: The rules that change, as a unified diff of the normalised listings (empty when none do).
  returned: when O(state) is V(present) or V(absent)
  type: str
pending_confirmation:
  description: Whether a change was loaded that the host restores unless it is confirmed (always false in check mode).
  returned: always
  type: bool
pending_file:
  description: The restore definition the watchdog loads unless the change is confirmed.
  returned: when RV(pending_confirmation) is true
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailrelay.smtp.plugins.module_utils import _nftables


def _spawn(module, argv):
    """Start the watchdog in a session of its own, so it outlives this module and the SSH connection.

    ``setsid -f`` returns at once; the script's first line lets go of run_command's pipes.
    """
    script = "exec </dev/null >/dev/null 2>&1; " + argv[-1]
    rc, out, err = module.run_command(["setsid", "-f"] + argv[:-1] + [script])
    if rc != 0:
        raise _nftables.NftError("the confirm watchdog did not start: %s" % (err or out).strip())


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "default": "mailrelay"},
            "family": {"type": "str", "choices": list(_nftables.FAMILIES), "default": "inet"},
            "content": {"type": "str"},
            "state": {"type": "str", "choices": ["present", "absent", "confirmed"], "default": "present"},
            "confirm_timeout": {"type": "int", "default": 0},
            "state_dir": {"type": "path", "default": "/var/lib/mailrelay-nftables"},
        },
        required_if=[("state", "present", ("content",))],
        supports_check_mode=True,
    )
    params = module.params
    state = params["state"]
    content = params["content"] if state == "present" else None
    for field, message in _nftables.check_content(params["family"], params["name"], content):
        module.fail_json(msg="%s: %s" % (field, message))
    timeout = params["confirm_timeout"]
    if timeout and not _nftables.MIN_CONFIRM_TIMEOUT <= timeout <= _nftables.MAX_CONFIRM_TIMEOUT:
        module.fail_json(msg="confirm_timeout: must be 0 or between %d and %d seconds, got %d"
                         % (_nftables.MIN_CONFIRM_TIMEOUT, _nftables.MAX_CONFIRM_TIMEOUT, timeout))
    if not module.get_bin_path("nft"):
        module.fail_json(msg="nft not found: install the nftables package")

    def run(argv, stdin=None):
        return module.run_command(argv, data=stdin, binary_data=True)

    table = _nftables.Table(params["family"], params["name"], run, params["state_dir"])
    result = {"changed": False, "table": "%s %s" % (params["family"], params["name"]), "pending_confirmation": False}
    try:
        if state == "confirmed":
            if module.check_mode:
                result["changed"] = table.pending()
            else:
                result["changed"] = table.confirm()
            module.exit_json(**result)
        before, after, changed = table.plan(content)
        result.update(changed=changed, diff_lines=_nftables.unified_diff(before, after, result["table"]))
        if module._diff:
            result["diff"] = {"before": before, "after": after,
                              "before_header": result["table"] + " (loaded)", "after_header": result["table"] + " (wanted)"}
        if changed and module.check_mode:
            if content is not None:
                table.check(content)
        elif changed:
            table.apply(content, confirm_timeout=timeout, spawn=lambda argv: _spawn(module, argv))
            if timeout:
                result.update(pending_confirmation=True, pending_file=table.pending_file)
    except (_nftables.NftError, OSError) as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
