# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The docs-only Exchange modules document exactly what their action plugins accept.

validate-modules skips the argument spec of docs-only modules, so this test does that check.
"""

from __future__ import annotations

import importlib

import pytest
import yaml

from ansible_collections.mailrelay.smtp.plugins.doc_fragments.exchange_session import ModuleDocFragment

MODULES = ("exchange_receive_connector", "exchange_send_connector", "exchange_transport_dns", "exchange_accepted_domain", "exchange_info")
ATTRIBUTES = ("type", "required", "default", "choices", "elements")


def documented_options(module):
    docs = yaml.safe_load(module.DOCUMENTATION)
    options = dict(docs.get("options") or {})
    if "mailrelay.smtp.exchange_session" in docs.get("extends_documentation_fragment", []):
        options.update(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
    return docs, options


def compare(spec, documented, where):
    assert set(spec) == set(documented), "%s: spec %s, documented %s" % (where, sorted(spec), sorted(documented))
    for name, option in spec.items():
        doc = documented[name]
        for attribute in ATTRIBUTES:
            want = option.get(attribute, False if attribute == "required" else None)
            have = doc.get(attribute, False if attribute == "required" else None)
            if attribute == "choices" and want is not None:
                want, have = sorted(want), sorted(have or [])
            assert want == have, "%s.%s: %s is %r in the spec but %r in the docs" % (where, name, attribute, want, have)
        assert doc.get("description"), "%s.%s has no description" % (where, name)
        if "options" in option:
            compare(option["options"], doc.get("suboptions") or {}, "%s.%s" % (where, name))
        assert bool(option.get("no_log")) == (name in ("password", "session_password")), "%s.%s: no_log must be set exactly on secrets" % (where, name)


@pytest.mark.parametrize("name", MODULES)
def test_docs_match_the_action_plugin_spec(name):
    module = importlib.import_module("ansible_collections.mailrelay.smtp.plugins.modules." + name)
    action = importlib.import_module("ansible_collections.mailrelay.smtp.plugins.action." + name)
    docs, options = documented_options(module)
    assert docs["module"] == name
    assert docs["author"] == "Mailrelay Maintainers (@mailrelay)"
    compare(action.ARGUMENT_SPEC, options, name)
    assert yaml.safe_load(module.EXAMPLES)
    assert yaml.safe_load(module.RETURN)


@pytest.mark.parametrize("name", MODULES)
def test_examples_use_only_documented_options(name):
    module = importlib.import_module("ansible_collections.mailrelay.smtp.plugins.modules." + name)
    action = importlib.import_module("ansible_collections.mailrelay.smtp.plugins.action." + name)
    for task in yaml.safe_load(module.EXAMPLES):
        args = task.get("mailrelay.smtp." + name)
        if args is None:
            continue
        assert set(args) <= set(action.ARGUMENT_SPEC), (task["name"], set(args) - set(action.ARGUMENT_SPEC))
