# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run an Exchange action plugin against tests/fakes/fake_exchange.py and count its round trips."""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.tests.unit.utils.windows_action import WinPowerShellStub, make_action


class Run:
    """One task run: the result, the payload calls (round trips) and the cmdlets Exchange saw."""

    def __init__(self, fake, action_class, args, check_mode=False, diff=False):
        fake.calls.clear()
        action = make_action(action_class, args, check_mode=check_mode, diff=diff)
        self.stub = WinPowerShellStub(fake)
        action._execute_module = self.stub
        self.result = action.run(task_vars={})
        self.cmdlets = fake.cmdlets_called()
        # Every Exchange module runs the one Exchange payload, whatever the mode.
        assert {call["payload"] for call in self.stub.calls} <= {"exchange"}, self.stub.calls

    @property
    def modes(self):
        """The payload's ``Mode`` in each round trip, e.g. ``["read", "apply"]``."""
        return self.stub.modes()

    def call(self, mode):
        """The one round trip in ``mode`` (its parameters and secrets)."""
        (found,) = [call for call in self.stub.calls if call["parameters"]["Mode"] == mode]
        return found

    def changing_cmdlets(self):
        return [name for name in self.cmdlets if not name.startswith("Get-")]
