# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every Exchange action plugin shares: session options, the two payloads, error texts.

The payloads reach the Exchange cmdlets through whatever connection the host
uses (WinRM, PSRP or SSH): ``run_payload`` only calls ``_execute_module``
with ansible.windows.win_powershell.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._windows_resource import (
    ResourceInputError,
    WindowsResourceAction,
)

READ_PAYLOAD = "exchange_read"
APPLY_PAYLOAD = "exchange_apply"


def with_session_options(resource_spec):
    """A resource's argument spec plus the shared session options (doc fragment exchange_session)."""
    spec = dict(resource_spec)
    spec.update(ex.SESSION_ARGUMENT_SPEC)
    return spec


class ExchangeAction(WindowsResourceAction):
    read_payload = READ_PAYLOAD
    apply_payload = APPLY_PAYLOAD
    required_together = ex.SESSION_REQUIRED_TOGETHER

    def read_scope(self, params):
        """Which objects the read payload returns (payload parameters besides the session)."""
        raise NotImplementedError

    def read_parameters(self, params):
        return dict(ex.session_parameters(params), **self.read_scope(params))

    def connection_secrets(self, params):
        return ex.session_secrets(params)

    def translate_error(self, error):
        return ex.error_message(error.payload, error.code, error.message)

    def _converge(self, params, task_vars):
        # module_utils raise ExchangeInputError (they cannot import plugin_utils); the base
        # class reports ResourceInputError as a failed task that names the option.
        try:
            return super()._converge(params, task_vars)
        except ex.ExchangeInputError as exc:
            raise ResourceInputError(str(exc))
