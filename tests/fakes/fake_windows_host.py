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
- Windows features (installed or not) and services (start mode, state);
- the Windows Firewall rules as community.windows.win_firewall_rule sees them
  (see :meth:`FakeWindowsHost.win_firewall_rule`), and the one listing script of
  roles/windows_firewall/files/owned_rules.ps1, recognised by its exact text.
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
OWNED_RULES_SCRIPT = os.path.join(COLLECTIONS_ROOT, "ansible_collections", "mailrelay", "smtp", "roles", "windows_firewall",
                                  "files", "owned_rules.ps1")
# INetFwRule values (Microsoft: NET_FW_RULE_DIRECTION, NET_FW_ACTION, NET_FW_PROFILE_TYPE2) as the module writes them.
_DIRECTIONS = {"in": 1, "out": 2}
_ACTIONS = {"block": 0, "allow": 1}
_PROFILES = {"domain": 1, "private": 2, "public": 4}
_PROTOCOLS = {"tcp": 6, "udp": 17, "icmpv4": 1, "icmpv6": 58}
# win_firewall_rule compares only these properties, and only those the task passes.
_FIREWALL_OPTIONS = (("description", "Description"), ("direction", "Direction"), ("action", "Action"), ("group", "Grouping"),
                     ("enabled", "Enabled"), ("profiles", "Profiles"), ("localip", "LocalAddresses"),
                     ("remoteip", "RemoteAddresses"), ("localport", "LocalPorts"), ("remoteport", "RemotePorts"),
                     ("protocol", "Protocol"))
_SHOULD_PROCESS = re.compile(r"\[CmdletBinding\([^)]*SupportsShouldProcess")


class FakeWindowsHost:
    def __init__(self, metabase=None, exchange=None):
        self.metabase = metabase or FakeMetabase.windows_default()
        # An Exchange server on this host (tests/fakes/fake_exchange.py), or None.
        self.exchange = exchange
        self.features = set()
        self.services = {"SMTPSVC": {"start_mode": "manual", "state": "stopped"}}
        self.folders = set()
        # Windows Firewall rules, each a dict of INetFwRule properties (Name, Grouping, ...); a new
        # Windows Server has many, and the collection must leave them alone.
        self.firewall_rules = [
            {"Name": "Windows Remote Management (HTTP-In)", "Grouping": "Windows Remote Management", "Description": "",
             "Direction": 1, "Action": 1, "Enabled": True, "Profiles": 0x7fffffff, "LocalAddresses": "*",
             "RemoteAddresses": "*", "LocalPorts": "5985", "RemotePorts": "*", "Protocol": 6},
        ]
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

    def win_firewall_rule(self, args, check_mode):
        """community.windows.win_firewall_rule (3.x), as its source and documentation describe it.

        Rules are found by ``Name`` (the display name), or by ``Grouping`` when no
        name is given; "present" creates a named rule that does not exist, or sets
        only the options the task passes on every match (address lists compared as
        sets); "absent" removes every match; ``any`` leaves a property at its
        default ``*``; a new rule is enabled unless told otherwise; diff in
        ``diff.prepared``. Address and port texts are kept as given: the real
        module compares them after the COM object has normalised both sides alike.
        """
        if not args.get("name") and not args.get("group"):
            return {"failed": True, "msg": "Either name or group must be specified"}
        matches = [rule for rule in self.firewall_rules
                   if (rule["Name"] == args["name"] if args.get("name") else rule["Grouping"] == args["group"])]
        wanted = {}
        for option, prop in _FIREWALL_OPTIONS:
            value = args.get(option)
            if value is None:
                continue
            if option == "direction":
                value = _DIRECTIONS[value]
            elif option == "action":
                value = _ACTIONS[value]
            elif option == "protocol":
                value = "*" if value == "any" else _PROTOCOLS.get(value.lower(), value)
            elif option == "profiles":
                total = sum(_PROFILES[item] for item in set(value))
                value = 0x7fffffff if total == 7 else total
            elif option in ("localip", "remoteip", "localport", "remoteport") and value == "any":
                value = "*"
            wanted[prop] = value
        prepared = []
        if args.get("state") == "absent":
            for rule in matches:
                prepared.append("-[%s]" % rule["Name"])
                if not check_mode:
                    self.firewall_rules.remove(rule)
            return {"changed": bool(matches), "diff": {"prepared": "\n".join(prepared)}}
        if not matches:
            if not args.get("name"):
                return {"changed": False, "diff": {"prepared": ""}}
            rule = {"Name": args["name"], "Grouping": "", "Description": "", "Direction": 1, "Action": 1, "Enabled": True,
                    "Profiles": 0x7fffffff, "LocalAddresses": "*", "RemoteAddresses": "*", "LocalPorts": "*",
                    "RemotePorts": "*", "Protocol": 256}
            rule.update(wanted)
            prepared.append("+[%s]" % rule["Name"])
            prepared.extend("+%s='%s'" % (prop, value) for prop, value in sorted(rule.items()))
            if not check_mode:
                self.firewall_rules.append(rule)
            return {"changed": True, "msg": "Firewall rule '%s' created." % args["name"], "diff": {"prepared": "\n".join(prepared)}}
        changed = False
        for rule in matches:
            prepared.append("[%s]" % rule["Name"])
            for prop, value in wanted.items():
                same = rule[prop] == value
                if not same and prop.endswith("Addresses"):
                    same = sorted(str(rule[prop]).split(",")) == sorted(str(value).split(","))
                if not same:
                    prepared.extend(["-%s='%s'" % (prop, rule[prop]), "+%s='%s'" % (prop, value)])
                    changed = True
                    if not check_mode:
                        rule[prop] = value
        return {"changed": changed, "diff": {"prepared": "\n".join(prepared)}}

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
        if script.strip() == _owned_rules_script().strip():
            names = [rule["Name"] for rule in self.firewall_rules if rule["Grouping"] == parameters["Group"]]
            return {"changed": False, "result": {"names": names}, "output": [], "error": []}
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


def _owned_rules_script():
    with open(OWNED_RULES_SCRIPT) as handle:
        return handle.read()


def main():
    state_file, module = sys.argv[1], sys.argv[2]
    host = FakeWindowsHost.load(state_file)
    result = host.run(module, json.loads(sys.stdin.read()))
    host.save(state_file)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
