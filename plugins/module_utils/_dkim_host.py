# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What an OpenDKIM signer set on this host is, and what bringing it to a wanted state would change.

Read-only: the opendkim module applies the plan; postfix_instances uses the
same plan in a preflight, so that a DKIM hub's no-op re-run is one module call.
``run_command(argv)`` is the module's (AnsibleModule.run_command).

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import glob
import os

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dkim
from ansible_collections.mailrelay.smtp.plugins.module_utils._local_files import text_or_none

OPENDKIM = "/usr/sbin/opendkim"
USER = "opendkim"


def signer_argument_spec():
    """The options of one signer set (mailrelay.smtp.opendkim's, its state aside)."""
    return dict(
        name=dict(type="str", required=True),
        keys=dict(
            type="list",
            elements="dict",
            no_log=False,
            options=dict(
                key_selector=dict(type="str", required=True, no_log=False),
                algorithm=dict(type="str", required=True, choices=list(_dkim.ALGORITHMS)),
                active=dict(type="bool", default=False),
                selector=dict(type="str"),
            ),
        ),
        domains=dict(type="list", elements="str", default=[]),
        internal_hosts=dict(type="list", elements="str", default=[]),
        address=dict(type="str", default="127.0.0.1"),
        port=dict(type="int", default=_dkim.DEFAULT_PORT),
        prune=dict(type="bool", default=True),
        config_dir=dict(type="path", default="/etc/mailrelay/opendkim"),
    )


class InputError(ValueError):
    """A signer option that cannot be used; ``problems`` lists the keys' problems, if that is what it is."""

    def __init__(self, message, problems=()):
        super().__init__(message)
        self.problems = list(problems)


def signer_set(params, state="present"):
    """(paths, lower-cased domains, keys with their key file's ``path``) of a signer set's options.

    Raises InputError for a bad name or bad keys. With V(absent) only the name and the paths count;
    with V(read), keys need not be active.
    """
    name = params["name"]
    if not _dkim.NAME.match(name):
        raise InputError("name: %r must be lower-case letters, digits, '-' and '_'" % name)
    where = _dkim.paths(name, params["config_dir"])
    if state == "absent":
        return where, [], []
    domains = [domain.lower() for domain in params["domains"]]
    if state == "present":
        problems = _dkim.validate(params["keys"], domains, params["internal_hosts"], params["port"])
    else:
        problems = [problem for problem in _dkim.validate(params["keys"], ["read.example"], [], 1) if not problem.startswith("keys: no key is active")]
    if problems:
        raise InputError("; ".join(problems), problems)
    return where, domains, [dict(key, path=_dkim.key_path(where, key["key_selector"])) for key in params["keys"]]


class SignerProcess:
    """One OpenDKIM process as it is: through systemd when it runs, otherwise by its pid file."""

    def __init__(self, run_command, name, files):
        self._run_command = run_command
        self.name = name
        self.files = files
        self.systemd = os.path.isdir("/run/systemd/system")
        self.unit_path = "/etc/systemd/system/" + files["unit"]

    def pid(self):
        text = text_or_none(self.files["pid"])
        if not text or not text.strip().isdigit():
            return None
        pid = int(text.strip())
        cmdline = text_or_none("/proc/%d/cmdline" % pid) or ""
        stat = (text_or_none("/proc/%d/stat" % pid) or "").rsplit(")", 1)[-1].split()
        # An exited signer that nobody reaped yet (state Z) has stopped.
        return pid if "opendkim" in cmdline and stat[:1] != ["Z"] else None

    def running(self):
        if self.systemd:
            rc, dummy, dummy2 = self._run_command(["systemctl", "is-active", "--quiet", self.files["unit"]])
            return rc == 0
        return self.pid() is not None

    def unit_text(self):
        """The unit file to write, or None when it is as wanted (or systemd does not run)."""
        if not self.systemd:
            return None
        text = _dkim.render_unit(self.name, self.files)
        return None if text_or_none(self.unit_path) == text else text


def plan(params, where, keys, domains, signers):
    """Everything bringing the signers of ``where`` to ``params`` would change, without changing it.

    ``keys`` carry their ``path``; ``signers`` maps each algorithm to its SignerProcess.
    Returns a dict: ``generate`` (keys to create), ``stale`` (key files to remove),
    ``plans`` (per algorithm: action, files to remove, texts, unit), ``changed_files``,
    ``removed_files``, ``existing`` (selectors with a key file), ``changed``, ``action``
    and ``diff``.
    """
    current = {}

    def text_of(path):
        """Each file is read once, however many comparisons and diffs use it."""
        if path not in current:
            current[path] = text_or_none(path)
        return current[path]

    algorithms = _dkim.algorithms_of(keys)
    existing = {key["key_selector"] for key in keys if os.path.exists(key["path"])}
    on_disk = set(glob.glob(where["keys"] + "/*.private"))
    wanted_keys = {key["path"] for key in keys}
    stale = sorted(on_disk - wanted_keys) if params["prune"] else []
    generate = [key for key in keys if key["key_selector"] not in existing]
    internal_hosts = _dkim.render_internal_hosts(params["internal_hosts"])
    wanted_files = {where["internal_hosts"]: internal_hosts}
    plans = {}
    for algorithm, signer in signers.items():
        files = signer.files
        if algorithm not in algorithms:
            # No key of this algorithm (any more): its signer stops, its files go.
            leftovers = [path for path in (files["config"], files["key_table"], files["signing_table"]) if os.path.exists(path)]
            plans[algorithm] = {"action": "stopped" if signer.running() else "none", "remove": leftovers, "texts": None}
            continue
        own = [key for key in keys if key["algorithm"] == algorithm]
        texts = {
            "algorithm": algorithm,
            "config_for": lambda paths, port=params["port"]: _dkim.render_config(paths, params["address"], port, USER),
            "key_table": _dkim.render_key_table(where, own),
            "signing_table": _dkim.render_signing_table(domains, own),
            "internal_hosts": internal_hosts,
        }
        desired = {files["config"]: texts["config_for"](files), files["key_table"]: texts["key_table"], files["signing_table"]: texts["signing_table"]}
        wanted_files.update(desired)
        changed = {path: text for path, text in desired.items() if text_of(path) != text}
        if not signer.running():
            action = "started"
        elif changed or stale or text_of(where["internal_hosts"]) != internal_hosts:
            action = "reloaded"
        else:
            action = "none"
        plans[algorithm] = {"action": action, "remove": [], "texts": texts, "unit": signer.unit_text()}
    changed_files = {path: text for path, text in wanted_files.items() if text_of(path) != text}
    removed_files = [path for found in plans.values() for path in found["remove"]]
    actions = sorted({found["action"] for found in plans.values()} - {"none"})
    key_list_before = "".join("%s\n" % os.path.basename(path) for path in sorted(on_disk))
    key_list_after = "".join("%s\n" % os.path.basename(path) for path in sorted(wanted_keys | (on_disk - set(stale))))
    keys_header = where["keys"] + " (key files)"
    return {
        "generate": generate,
        "stale": stale,
        "plans": plans,
        "changed_files": changed_files,
        "removed_files": removed_files,
        "existing": existing,
        "action": ", ".join(actions) or "none",
        "changed": bool(generate or stale or changed_files or removed_files or actions or any(found.get("unit") for found in plans.values())),
        "diff": [dict(before_header=path, after_header=path, before=text_of(path) or "", after=text) for path, text in sorted(changed_files.items())]
        + [dict(before_header=path, after_header=path, before=text_of(path) or "", after="") for path in removed_files]
        + [dict(before_header=keys_header, after_header=keys_header, before=key_list_before, after=key_list_after)],
    }
