# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the IIS SMTP action plugins, or the payload's read mode, against tests/fakes/fake_metabase.py."""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _metabase
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._iis_smtp_action import PAYLOAD
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._windows_resource import APPLY, READ
from ansible_collections.mailrelay.smtp.tests.unit.utils.windows_action import WinPowerShellStub, make_action


def run_action(action_class, host, args, check_mode=False, diff=False):
    """Run ``action_class`` once against fake ``host``; return (result, the stub that recorded the calls)."""
    module_name = action_class.__module__.rsplit(".", 1)[-1]
    action = make_action(action_class, args, check_mode=check_mode, diff=diff, action_name="mailrelay.smtp." + module_name)
    stub = WinPowerShellStub(host)
    action._execute_module = stub
    return action.run(task_vars={}), stub


def apply_calls(stub):
    """The payload calls the stub recorded in mode apply."""
    return [call for call in stub.calls if call["parameters"]["Mode"] == APPLY]


def read_state(host, domains_of="*"):
    """HostState of fake ``host`` as the action plugins read it (one call in mode read)."""
    return _metabase.decode_document(host.handle(PAYLOAD, dict(_metabase.read_parameters(domains_of), Mode=READ), {}))
