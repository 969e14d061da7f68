# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each IIS action plugin's argument spec matches its docs-only module's DOCUMENTATION.

validate-modules cannot compare them (the module file holds documentation only),
so this test does.
"""

from __future__ import annotations

import importlib

import pytest
import yaml

from ansible_collections.mailrelay.smtp.plugins.action import iis_smtp_domain, iis_smtp_info, iis_smtp_server

PAIRS = [(iis_smtp_server, "iis_smtp_server"), (iis_smtp_domain, "iis_smtp_domain"), (iis_smtp_info, "iis_smtp_info")]


def documented(name):
    module = importlib.import_module("ansible_collections.mailrelay.smtp.plugins.modules." + name)
    return yaml.safe_load(module.DOCUMENTATION), module


def compare(spec, options, where):
    problems = []
    if set(spec) != set(options):
        problems.append("%s: spec %s, docs %s" % (where, sorted(spec), sorted(options)))
    for name in set(spec) & set(options):
        left, right = spec[name], options[name]
        here = "%s.%s" % (where, name)
        for key in ("type", "elements", "choices", "required"):
            default = {"required": False}.get(key)
            if left.get(key, default) != right.get(key, default):
                problems.append("%s: %s is %r in the spec, %r in the docs" % (here, key, left.get(key, default), right.get(key, default)))
        if left.get("default") != right.get("default"):
            problems.append("%s: default is %r in the spec, %r in the docs" % (here, left.get("default"), right.get("default")))
        if bool(left.get("options")) != bool(right.get("suboptions")):
            problems.append("%s: suboptions differ" % here)
        elif left.get("options"):
            problems.extend(compare(left["options"], right["suboptions"], here))
    return problems


@pytest.mark.parametrize("action, name", PAIRS, ids=[name for dummy, name in PAIRS])
def test_argument_spec_matches_documentation(action, name):
    docs, dummy = documented(name)
    assert compare(action.ActionModule.argument_spec, docs["options"], name) == []


@pytest.mark.parametrize("action, name", PAIRS, ids=[name for dummy, name in PAIRS])
def test_documentation_is_complete(action, name):
    docs, module = documented(name)
    assert docs["module"] == name
    assert docs["author"] == "Mailrelay Maintainers (@mailrelay)"
    # The platform attribute (Windows, through win_powershell) comes from the shared doc fragment.
    assert "mailrelay.smtp.iis_smtp" in docs["extends_documentation_fragment"]
    assert yaml.safe_load(module.EXAMPLES) and yaml.safe_load(module.RETURN)
    for option in docs["options"].values():
        assert option.get("description"), option


def test_secrets_are_no_log():
    assert iis_smtp_server.ActionModule.argument_spec["outbound_password"]["no_log"] is True
    assert iis_smtp_domain.ActionModule.argument_spec["domains"]["options"]["password"]["no_log"] is True
