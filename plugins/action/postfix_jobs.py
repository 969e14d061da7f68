# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of mailrelay.smtp.postfix_jobs (documentation: plugins/modules/postfix_jobs.py).

One host's Postfix instances are built here, on the controller, from the host's topology
jobs (module_utils/_postfix_jobs.py: the job roles' own checks and builders), then planned
or converged on the host by one call of mailrelay.smtp.postfix_instances. Python rather
than Jinja: a no-op re-run pays for no template and no filter plugin loading.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gc

from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE
from ansible.plugins.action import ActionBase

from ansible_collections.mailrelay.smtp.plugins.module_utils import _postfix_jobs

MODULE = "mailrelay.smtp.postfix_instances"
ARGUMENT_SPEC = {
    "jobs": {"type": "dict", "required": True},
    "host": {"type": "str"},
    "certificate_reads": {"type": "list", "elements": "dict", "default": []},
    "packages": {"type": "list", "elements": "str", "default": []},
    "dovecot_packages": {"type": "list", "elements": "str", "default": []},
    "record_path": {"type": "str", "default": ""},
    "retire_queued": {"type": "str", "choices": ["refuse", "flush", "drop"], "default": "refuse"},
    "reload_changed": {"type": "bool", "default": False},
}


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic garbage collector paused for the duration, then set back as it was.

    Building the module's AnsiballZ payload compiles every module_util it carries to an AST
    to find its imports: a great many short-lived objects without cycles, which reference
    counting frees as the build goes. Meanwhile the collector would run again and again over
    them, its full passes also over the controller's heap that this forked worker inherited.
    Measured on the topology benchmark's host: the build took 0.28-0.31 s with the collector,
    0.15-0.16 s without it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class InputError(ValueError):
    """A certificate read or a role variable that cannot be used; the message names it."""


def _as_setting(variable, value, default):
    """Role variable ``variable`` read from the inventory, in the type of its default."""
    if isinstance(default, bool):
        # The values Ansible's bool filter knows (the converge task reads these variables with it).
        known = value.lower() if isinstance(value, str) else value
        if known in BOOLEANS_TRUE or known in BOOLEANS_FALSE:
            return known in BOOLEANS_TRUE
        raise InputError("%s: %r is not a boolean" % (variable, value))
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise InputError("%s: %r is not an integer" % (variable, value)) from None
    if not isinstance(value, str):
        raise InputError("%s: %r is not a string" % (variable, value))
    return value


def role_settings(variables, template=lambda value: value):
    """The role-only settings (``_postfix_jobs.ROLE_ONLY_DEFAULTS``) that the host's ``variables`` set
    by their role variable names (``submission_hash_iterations``...), each value passed through
    ``template`` first, as a role would read it."""
    found = {}
    for job, defaults in _postfix_jobs.ROLE_ONLY_DEFAULTS.items():
        for name, default in defaults.items():
            variable = "%s_%s" % (job, name)
            if variable in variables:
                found.setdefault(job, {})[name] = _as_setting(variable, template(variables[variable]), default)
    return found


def trusted_fingerprints(reads, host):
    """Fingerprints of the certificates read for ``host``'s hub (entries ``{item: {hub}, content}``)."""
    fingerprints = []
    for read in reads:
        item = read.get("item") or {}
        if item.get("hub") != host or read.get("skipped"):
            continue
        if read.get("failed") or "content" not in read:
            raise InputError("certificate_reads: the certificate %s on %s was not read" % (item.get("cert_file"), item.get("host")))
        try:
            pem = base64.b64decode(read["content"], validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise InputError("certificate_reads: %s on %s is not base64 PEM text: %s" % (item.get("cert_file"), item.get("host"), exc))
        fingerprints.append(_postfix_jobs.certificate_fingerprint(pem))
    return fingerprints


def signer(jobs):
    """The OpenDKIM signer of the host's Postfix hub, in the options the hub role gives
    mailrelay.smtp.opendkim (roles/hub/tasks/opendkim.yml); None when it does not sign."""
    hub = jobs.get("hub") or {}
    if hub.get("hub_platform") != "postfix" or not hub.get("hub_dkim"):
        return None
    return {
        "name": hub["hub_instance"],
        "keys": hub["hub_dkim"]["keys"],
        "domains": hub["hub_domains"],
        "internal_hosts": [client["address"] for client in hub["hub_relay_clients"]],
        "address": hub["hub_dkim"]["address"],
        "port": hub["hub_dkim"]["port"],
    }


def module_args(params, host, settings, check_mode=False):
    """The arguments of the one postfix_instances call, and the warnings of the job checks.

    ``settings``: the role-only settings the host sets (role_settings). In check mode a
    DKIM-signing hub's signer is planned in the same call (the hub role applies it).
    """
    fingerprints = trusted_fingerprints(params["certificate_reads"], host)
    instances, warnings = _postfix_jobs.host_instances(params["jobs"], host, fingerprints, settings)
    packages = list(params["packages"]) if instances else []
    if any("dovecot_sasl" in instance for instance in instances):
        packages += [package for package in params["dovecot_packages"] if package not in packages]
    args = {
        "instances": instances,
        "packages": packages,
        "retire_queued": params["retire_queued"],
        "reload_changed": params["reload_changed"],
    }
    if params["record_path"]:
        args["record_path"] = params["record_path"]
    dkim = signer(params["jobs"]) if check_mode else None
    if dkim:
        args["opendkim"] = dkim
    return args, warnings


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        dummy, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = params["host"] or task_vars.get("inventory_hostname")
        try:
            args, warnings = module_args(params, host, role_settings(task_vars, self._templar.template), self._task.check_mode)
        except (InputError, _postfix_jobs.JobSettingsError) as exc:
            return dict(result, failed=True, changed=False, msg="%s; nothing was changed" % exc if isinstance(exc, InputError) else str(exc))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            return dict(result, failed=True, changed=False,
                        msg="postfix_jobs: the jobs of %s are not those mailrelay.smtp.topology derives: %s; nothing was changed" % (host, exc))
        if not args["instances"] and "record_path" not in args:
            # Nothing of this host is Postfix's, and no record of instances it may have to retire.
            return dict(result, changed=False, skipped=True, skip_reason="%s serves no job on Postfix" % host)
        with _collector_paused():
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        if warnings:
            result.setdefault("warnings", []).extend(warnings)
        return result
