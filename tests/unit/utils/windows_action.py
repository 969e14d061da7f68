# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive a Windows resource action plugin without a Windows host.

``make_action`` builds the action plugin as Ansible would; ``WinPowerShellStub``
stands in for ``ActionBase._execute_module`` running ansible.windows.win_powershell:
it recognises which collection payload was sent (by its exact text), hands the
parameters to a fake backend (tests/fakes/fake_*.py) and wraps the backend's
answer the way win_powershell does (``result`` holds the payload's JSON string;
a raised error becomes ``failed`` with an error record).
"""

from __future__ import annotations

import json
import os
from unittest.mock import MagicMock

from ansible.playbook.task import Task

from ansible_collections.mailrelay.smtp.plugins.plugin_utils import _windows_rpc


def make_action(action_class, args, check_mode=False, diff=False, action_name="mailrelay.smtp.test"):
    task = MagicMock(Task)
    task.args = dict(args)
    task.action = action_name
    task.check_mode = check_mode
    task.diff = diff
    task.async_val = 0
    task.environment = None
    connection = MagicMock()
    connection._shell.tmpdir = "/tmp/not-used"
    play_context = MagicMock()
    play_context.check_mode = check_mode
    return action_class(task, connection, play_context, loader=None, templar=None, shared_loader_obj=None)


def payload_names():
    """Names of the collection's payloads (``plugins/payloads/NAME.ps1``)."""
    return sorted(name[:-4] for name in os.listdir(_windows_rpc.PAYLOAD_DIR) if name.endswith(".ps1"))


def payload_by_text():
    """{script text: payload name}: a fake host recognises a payload by its exact text."""
    return {_windows_rpc.load_payload(name): name for name in payload_names()}


class PayloadFailure(Exception):
    """Raised by a fake backend to simulate a terminating PowerShell error."""


class WinPowerShellStub:
    """Callable replacing ``_execute_module``; records every payload call."""

    def __init__(self, backend):
        self.backend = backend
        self.calls = []
        self._by_text = payload_by_text()

    def calls_to(self, payload):
        return [call for call in self.calls if call["payload"] == payload]

    def modes(self):
        """The ``Mode`` of every call in order, e.g. ["read", "apply"]."""
        return [call["parameters"].get("Mode") for call in self.calls]

    def __call__(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        assert module_name == _windows_rpc.WIN_POWERSHELL, module_name
        payload = self._by_text.get(module_args["script"])
        assert payload, "script is not one of the collection's payloads"
        secrets = {item["name"]: item["value"] for item in module_args.get("sensitive_parameters", [])}
        self.calls.append({"payload": payload, "parameters": module_args["parameters"], "secrets": secrets})
        try:
            document = self.backend.handle(payload, module_args["parameters"], secrets)
        except PayloadFailure as exc:
            return {
                "failed": True,
                "changed": False,
                "msg": "Unhandled exception while executing script: %s" % exc,
                "error": [{"exception": {"message": str(exc)}, "output": str(exc)}],
                "result": {},
            }
        return {"changed": module_args["parameters"].get("Mode") == "apply", "result": json.dumps(document), "error": []}
