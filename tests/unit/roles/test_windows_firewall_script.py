# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The windows_firewall role's one PowerShell script: it parses, takes the group as a parameter and only reads."""

from __future__ import annotations

import os
import re

from ansible_collections.mailrelay.smtp.tests.unit.utils import powershell_syntax

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                      "roles", "windows_firewall", "files", "owned_rules.ps1")


def script_text():
    with open(SCRIPT) as handle:
        return handle.read()


def test_the_listing_script_parses_and_takes_only_the_group():
    tree = powershell_syntax.parse(script_text())
    assert powershell_syntax.syntax_errors(tree) == []
    assert powershell_syntax.declared_parameters(tree) == ["Group"]
    assert powershell_syntax.code_from_string_uses(script_text()) == []


def test_the_listing_script_changes_nothing_and_runs_in_check_mode():
    text = script_text()
    # win_powershell runs a script in check mode only when it declares SupportsShouldProcess.
    assert "[CmdletBinding(SupportsShouldProcess)]" in text
    assert "$Ansible.Changed = $false" in text
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    # No INetFwRules.Add/Remove, no property assignment on a rule, no firewall cmdlet that writes.
    assert not re.search(r"\.(Add|Remove)\s*\(|\$_\.\w+\s*=[^=]|(New|Set|Remove|Enable|Disable)-NetFirewall", code, re.IGNORECASE)
