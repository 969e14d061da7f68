# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Body of the fake ansible.windows modules (win_powershell, win_feature, win_service, win_reboot)
and of the fake community.windows.win_firewall_rule.

The role tests copy this file, once per module name, into a throw-away
``ansible_collections/ansible/windows/plugins/modules/`` (and
``community/windows`` for win_firewall_rule) that comes first in
the collections path. Each copy hands its arguments to
tests/fakes/fake_windows_host.py (path and state file from the environment)
and returns what the fake host answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ansible.module_utils.basic import AnsibleModule

SPECS = {
    "win_powershell": dict(
        script=dict(type="str"), parameters=dict(type="dict"), error_action=dict(type="str"), depth=dict(type="int"),
        sensitive_parameters=dict(type="list", elements="dict", no_log=False, options=dict(
            name=dict(type="str", required=True), value=dict(type="str", no_log=True),
            username=dict(type="str"), password=dict(type="str", no_log=True))),
    ),
    "win_feature": dict(name=dict(type="list", elements="str", required=True), state=dict(type="str", default="present"),
                        include_management_tools=dict(type="bool", default=False)),
    "win_service": dict(name=dict(type="str", required=True), start_mode=dict(type="str"), state=dict(type="str")),
    "win_reboot": dict(),
    # The options of community.windows.win_firewall_rule (3.x documentation) the collection may pass.
    "win_firewall_rule": dict(
        name=dict(type="str"), group=dict(type="str"), description=dict(type="str"),
        direction=dict(type="str", choices=["in", "out"]), action=dict(type="str", choices=["allow", "block"]),
        protocol=dict(type="str"), localip=dict(type="str"), remoteip=dict(type="str"), localport=dict(type="str"),
        remoteport=dict(type="str"), profiles=dict(type="list", elements="str", aliases=["profile"]),
        enabled=dict(type="bool", aliases=["enable"]), state=dict(type="str", choices=["absent", "present"], default="present"),
    ),
}


def main():
    name = os.path.splitext(os.path.basename(__file__))[0]
    if name not in SPECS:
        name = os.environ.get("MAILRELAY_FAKE_MODULE_NAME", name)
    module = AnsibleModule(argument_spec=SPECS[name], supports_check_mode=True)
    args = dict(module.params, _ansible_check_mode=module.check_mode, _ansible_diff=module._diff)
    process = subprocess.run(
        [os.environ.get("MAILRELAY_FAKE_PYTHON", sys.executable), os.environ["MAILRELAY_FAKE_WINDOWS_DRIVER"],
         os.environ["MAILRELAY_FAKE_WINDOWS_STATE"], name],
        input=json.dumps(args), capture_output=True, text=True, timeout=120, check=False,
    )
    if process.returncode:
        module.fail_json(msg="fake Windows host crashed: %s" % process.stderr[-2000:])
    result = json.loads(process.stdout)
    if result.pop("failed", False):
        module.fail_json(**result)
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
