# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every IIS SMTP action plugin shares: the payload, decoding, plans, error texts.

The payload ``plugins/payloads/iis_smtp.ps1`` serves every IIS SMTP resource:
``Mode=read`` returns the metabase state, ``Mode=apply`` executes typed
operations and returns the state after (see WindowsResourceAction).

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _metabase
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._windows_resource import WindowsResourceAction
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._windows_rpc import PayloadError

PAYLOAD = "iis_smtp"


class IisSmtpAction(WindowsResourceAction):
    payload = PAYLOAD
    # _metabase raises MetabaseError for bad input; the message names the option.
    input_errors = (_metabase.MetabaseError,)

    def decode(self, params, raw):
        try:
            return _metabase.decode_document(raw)
        except _metabase.MetabaseError as exc:
            # Not the user's input: the host answered something that is not the payload's contract.
            raise PayloadError(self.payload, str(exc))

    def to_plan(self, metabase_plan):
        """The plan as the base class runs it (one ResourcePlan shape): its secrets become the payload's one
        SecureString parameter ``Secrets``."""
        metabase_plan.secrets = _metabase.secrets_parameter(metabase_plan.secrets)
        return metabase_plan

    @staticmethod
    def plan_report(plan):
        """``operations`` of what the task did (or would do), for the module result."""
        return {"operations": _metabase.operation_summary(plan.operations)} if plan is not None else {}

    def translate_error(self, error):
        return _metabase.error_message(error.payload, error.code, error.message)
