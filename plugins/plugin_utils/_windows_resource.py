# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Base class of the action plugins that manage one Windows resource.

Every resource (an IIS SMTP virtual server, an Exchange receive connector...)
follows the same steps, and this class owns them so that each resource only
supplies the pure parts:

    validate -> read (one payload call) -> plan -> check mode? stop
             -> apply (one payload call, only when there is something to do)
             -> verify that the state the host returned needs no further change
             -> report

A resource with 1,000 relay addresses therefore still costs one read and at
most one apply.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase

from ansible_collections.mailrelay.smtp.plugins.module_utils._windows_plan import ResourcePlan
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._windows_rpc import (
    PayloadError,
    run_payload,
)


def secret_values(argument_spec, params):
    """Every value of a ``no_log`` option in ``params``, suboptions included."""
    found = set()
    for name, spec in argument_spec.items():
        value = (params or {}).get(name)
        if value is None:
            continue
        if spec.get("no_log"):
            found.add(str(value))
        suboptions = spec.get("options")
        if suboptions:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    found |= secret_values(suboptions, item)
    return found


# Values of the payloads' ``Mode`` parameter: ``read`` returns the state and changes nothing
# (it also runs in check mode); ``apply`` executes ``Operations`` and returns the state after.
READ = "read"
APPLY = "apply"


class ResourceInputError(Exception):
    """Bad input found by a resource's own validation; the message names the option."""


# The one plan shape of every Windows resource (IIS SMTP and Exchange), kept with the pure code.
Plan = ResourcePlan


class WindowsResourceAction(ActionBase):
    """Subclasses set the class attributes and implement the hooks below."""

    TRANSFERS_FILES = False
    _requires_connection = True

    argument_spec = {}
    mutually_exclusive = []
    required_if = []
    required_together = []
    required_one_of = []
    # One payload file per resource family; the ``Mode`` parameter says read or apply.
    payload = None
    # Read-only resources (``*_info``) set this to False.
    supports_apply = True
    # Exceptions of the resource's module_utils that mean bad input (they cannot import
    # ResourceInputError from here); reported like ResourceInputError.
    input_errors = ()

    # ---- hooks: pure, delegate to module_utils -------------------------------------------
    def build_desired(self, params):
        """Normalise and validate ``params``; raise ResourceInputError with the option name."""
        raise NotImplementedError

    def read_parameters(self, params):
        """Parameters that say which objects to read, in both modes (apply returns the state after)."""
        return {}

    def connection_secrets(self, params):
        """Secrets both payload calls need (e.g. a session password), as SecureString parameters."""
        return {}

    def decode(self, params, raw):
        """Turn the read/apply payload's JSON document into the resource's model."""
        raise NotImplementedError

    def plan(self, params, desired, current):
        """Return a ResourcePlan that takes ``current`` to ``desired``."""
        raise NotImplementedError

    def report(self, params, desired, current, plan):
        """Return values describing ``current`` (the state after any change).

        ``plan`` is what this task planned from the state it read (None for read-only resources).
        """
        return {}

    def translate_error(self, error):
        """Return a user-facing message for a PayloadError (override for known codes)."""
        return "%s failed on the host: %s" % (error.payload, error.message)

    # ---- the fixed sequence ------------------------------------------------------------------
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        # Raises AnsibleActionFail with every problem listed before anything reaches the host.
        dummy, params = self.validate_argument_spec(
            argument_spec=self.argument_spec,
            mutually_exclusive=self.mutually_exclusive,
            required_if=self.required_if,
            required_together=self.required_together,
            required_one_of=self.required_one_of,
        )
        no_log_values = secret_values(self.argument_spec, params)
        try:
            result.update(self._converge(params, task_vars or {}))
        except (ResourceInputError,) + tuple(self.input_errors) as exc:
            result.update(failed=True, changed=False, msg=str(exc))
        except PayloadError as exc:
            result.update(failed=True, msg=self.translate_error(exc), payload=exc.payload)
            if exc.code:
                result["error_code"] = exc.code
        # Secrets never leave the plugin, whatever a hook put in the result.
        return remove_values(result, no_log_values)

    def _converge(self, params, task_vars):
        desired = self.build_desired(params)
        session_secrets = self.connection_secrets(params)
        scope = self.read_parameters(params)
        current = self.decode(params, run_payload(self, task_vars, self.payload, dict(scope, Mode=READ), session_secrets))
        if not self.supports_apply:
            return dict(changed=False, **self.report(params, desired, current, None))

        plan = self.plan(params, desired, current)
        result = dict(changed=bool(plan))
        if plan.warnings:
            result["warnings"] = list(plan.warnings)
        if plan.unconfirmed:
            result["unconfirmed"] = list(plan.unconfirmed)
        if self._task.diff and plan:
            result["diff"] = {"before": plan.before, "after": plan.after}
        if not plan or self._task.check_mode:
            result.update(self.report(params, desired, current, plan))
            return result

        apply_params = dict(scope, Mode=APPLY, Operations=plan.operations)
        apply_secrets = dict(session_secrets, **plan.secrets)
        after = self.decode(params, run_payload(self, task_vars, self.payload, apply_params, apply_secrets))
        # Write-only settings (passwords) cannot be read back; their operations carry verify=False.
        leftover = [op for op in self.plan(params, desired, after).operations if op.get("verify", True)]
        if leftover:
            # The host accepted the apply call but did not take every setting (xSMTP's
            # "some settings refuse to be set"): say which, rather than report success.
            names = sorted({str(op.get("name", op.get("op"))) for op in leftover})
            raise PayloadError(self.payload, "the host did not keep these settings: %s" % ", ".join(names))
        result.update(self.report(params, desired, after, plan))
        return result
