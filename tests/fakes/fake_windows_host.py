# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake Windows host for playbook tests of the IIS roles, kept in a pickle file between tasks.

The fake modules under ``fake_ansible_windows/`` (stand-ins for ansible.windows'
win_powershell, win_feature, win_service and win_reboot) run this file as a
script: ``python fake_windows_host.py STATE_FILE MODULE`` with the module's
arguments as JSON on stdin, and print the module result as JSON.

What it models:
- win_powershell running the collection's IIS payload (or, when the host has
  one, the Exchange payload, answered by tests/fakes/fake_exchange.py):
  recognised by its exact text and answered by :class:`FakeMetabase` the way win_powershell
  wraps it (``result`` holds the JSON string, a terminating error becomes
  ``failed`` with an error record); in check mode a script without
  ``SupportsShouldProcess`` is skipped with ``changed`` as win_powershell does,
  and the payload (which has it) runs with ``-WhatIf``, so its mode ``apply``
  stops with ``MAILRELAY:check_mode`` before any change, as the script does;
- the one inline script of roles/iis_smtp/tasks/mail_root.yml (mail folders),
  as a set of folders;
- Windows features (installed or not) and services (start mode, state).
Any other script fails loudly: the fake does not pretend to run PowerShell.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import sys

# The directory that holds ansible_collections/ (this file is .../ansible_collections/mailrelay/smtp/tests/fakes/).
COLLECTIONS_ROOT = os.environ.get("MAILRELAY_FAKE_COLLECTIONS_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", ".."))
if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)

from ansible_collections.mailrelay.smtp.tests.fakes.fake_metabase import FakeMetabase  # noqa: E402
from ansible_collections.mailrelay.smtp.tests.unit.utils.windows_action import PayloadFailure, payload_by_text  # noqa: E402

MAIL_FOLDERS = ("Queue", "Pickup", "Drop", "Badmail")
_SHOULD_PROCESS = re.compile(r"\[CmdletBinding\([^)]*SupportsShouldProcess")


class FakeWindowsHost:
    def __init__(self, metabase=None, exchange=None):
        self.metabase = metabase or FakeMetabase.windows_default()
        # An Exchange server on this host (tests/fakes/fake_exchange.py), or None.
        self.exchange = exchange
        self.features = set()
        self.services = {"SMTPSVC": {"start_mode": "manual", "state": "stopped"}}
        self.folders = set()
        self.calls = []

    # ---- persistence ------------------------------------------------------------------------
    @classmethod
    def load(cls, path):
        with open(path, "rb") as handle:
            return pickle.load(handle)

    def save(self, path):
        with open(path, "wb") as handle:
            pickle.dump(self, handle)

    # ---- modules -------------------------------------------------------------------------------
    def run(self, module, args):
        check_mode = bool(args.pop("_ansible_check_mode", False))
        args = {key: value for key, value in args.items() if not key.startswith("_ansible_")}
        self.calls.append((module, check_mode))
        return getattr(self, module)(args, check_mode)

    def win_feature(self, args, check_mode):
        names = args["name"] if isinstance(args["name"], list) else [args["name"]]
        missing = [name for name in names if name not in self.features]
        if missing and not check_mode:
            self.features.update(missing)
        return {"changed": bool(missing), "reboot_required": False, "success": True}

    def win_service(self, args, check_mode):
        service = self.services.get(args["name"])
        if service is None:
            return {"failed": True, "msg": "Service '%s' is not installed" % args["name"]}
        if args["name"] == "SMTPSVC" and "SMTP-Server" not in self.features:
            return {"failed": True, "msg": "Service 'SMTPSVC' is not installed"}
        wanted = dict(service)
        if args.get("start_mode"):
            wanted["start_mode"] = args["start_mode"]
        if args.get("state"):
            wanted["state"] = {"started": "started", "stopped": "stopped"}.get(args["state"], wanted["state"])
        changed = wanted != service
        if changed and not check_mode:
            service.update(wanted)
            self.metabase.service_status = "Running" if service["state"] == "started" else "Stopped"
        return {"changed": changed, "start_mode": wanted["start_mode"], "state": wanted["state"]}

    def win_reboot(self, args, check_mode):
        return {"failed": True, "msg": "the fake Windows host does not reboot"}

    def win_powershell(self, args, check_mode):
        script = args.get("script") or ""
        if check_mode and not _SHOULD_PROCESS.search(script):
            return {"changed": True, "msg": "skipped, running in check mode"}
        payload = payload_by_text().get(script)
        parameters = args.get("parameters") or {}
        if payload is not None:
            if check_mode and parameters.get("Mode") == "apply":
                return self._failure("MAILRELAY:check_mode: mode apply changes the host and does not run in check mode")
            if payload == "exchange":
                backend = self.exchange
                if backend is None:
                    return self._failure("MAILRELAY:snapin_missing: the Exchange Management Shell snap-in is not installed")
            else:
                backend = self.metabase
                if not (self.features >= {"SMTP-Server", "Web-Metabase"}):
                    return self._failure("MAILRELAY:smtp_missing: the IIS 6 metabase has no SMTPSVC key")
            secrets = {item["name"]: item["value"] for item in args.get("sensitive_parameters") or []}
            try:
                document = backend.handle(payload, parameters, secrets)
            except PayloadFailure as exc:
                return self._failure(str(exc))
            changed = parameters.get("Mode") == "apply" and bool(parameters.get("Operations"))
            return {"changed": changed, "result": json.dumps(document), "error": []}
        if all(folder in script for folder in MAIL_FOLDERS) and "Root" in parameters:
            wanted = {parameters["Root"].rstrip("\\") + "\\" + folder for folder in MAIL_FOLDERS}
            missing = wanted - self.folders
            if not check_mode:
                self.folders |= missing
            return {"changed": bool(missing), "result": {}, "error": []}
        return self._failure("the fake Windows host cannot run this script:\n" + script[:200])

    @staticmethod
    def _failure(text):
        return {"failed": True, "changed": False, "msg": "Unhandled exception while executing script: %s" % text,
                "error": [{"exception": {"message": text}, "output": text}], "result": {}}


def main():
    state_file, module = sys.argv[1], sys.argv[2]
    host = FakeWindowsHost.load(state_file)
    result = host.run(module, json.loads(sys.stdin.read()))
    host.save(state_file)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
