# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every Exchange action plugin shares: session options, the payload, error texts.

The payload (``plugins/payloads/exchange.ps1``, mode read or apply) reaches
the Exchange cmdlets through whatever connection the host uses (WinRM, PSRP
or SSH): ``run_payload`` only calls ``_execute_module`` with
ansible.windows.win_powershell.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._windows_resource import WindowsResourceAction

PAYLOAD = "exchange"


def with_session_options(resource_spec):
    """A resource's argument spec plus the shared session options (doc fragment exchange_session)."""
    spec = dict(resource_spec)
    spec.update(ex.SESSION_ARGUMENT_SPEC)
    return spec


class ExchangeAction(WindowsResourceAction):
    payload = PAYLOAD
    # _exchange* raise ExchangeInputError for bad input; the message names the option.
    input_errors = (ex.ExchangeInputError,)
    required_together = ex.SESSION_REQUIRED_TOGETHER
    # The module_utils module with the resource's pure logic: ``build_desired(params)``,
    # ``plan(desired, current)`` -> ``(operations, before, after[, secrets])`` and ``report(current)``.
    resource = None

    def build_desired(self, params):
        return self.resource.build_desired(params)

    def plan(self, params, desired, current):
        plan = self.resource.plan(desired, current)
        plan.before, plan.after = ex.diff_text(plan.before), ex.diff_text(plan.after)
        return plan

    def report(self, params, desired, current, plan):
        return self.resource.report(current)

    def read_scope(self, params):
        """Which objects the payload reads back, in both modes (parameters besides the session)."""
        raise NotImplementedError

    def read_parameters(self, params):
        self._session_warnings = ex.session_warnings(params)
        return dict(ex.session_parameters(params), **self.read_scope(params))

    def run(self, tmp=None, task_vars=None):
        self._session_warnings = []
        result = super().run(tmp, task_vars)
        if self._session_warnings:
            result["warnings"] = list(result.get("warnings") or []) + self._session_warnings
        return result

    def connection_secrets(self, params):
        return ex.session_secrets(params)

    def translate_error(self, error):
        return ex.error_message(error.payload, error.code, error.message)
