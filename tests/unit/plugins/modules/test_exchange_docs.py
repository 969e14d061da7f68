# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The docs-only Exchange modules document exactly what their action plugins accept.

validate-modules skips the argument spec of docs-only modules, so this test does that check, on the
documentation as ansible-doc shows it: doc fragments merged by Ansible's own ``add_fragments``.
"""

from __future__ import annotations

import importlib

import pytest
import yaml
from ansible.utils.plugin_docs import add_fragments

MODULES = ("exchange_receive_connector", "exchange_send_connector", "exchange_transport_dns", "exchange_accepted_domain", "exchange_info")
ATTRIBUTES = ("type", "required", "default", "choices", "elements")


class FragmentLoader:
    """Finds the doc fragments these modules use, as the plugin loader does (None when unknown)."""

    PACKAGES = {"mailrelay.smtp": "ansible_collections.mailrelay.smtp.plugins.doc_fragments", "ansible.builtin": "ansible.plugins.doc_fragments"}

    def get(self, name):
        collection, dummy, short = name.rpartition(".")
        if collection not in self.PACKAGES:
            return None
        try:
            fragment = importlib.import_module("%s.%s" % (self.PACKAGES[collection], short)).ModuleDocFragment
        except ImportError:
            return None
        return type(short, (fragment,), {"ansible_name": name})


def merged_docs(name):
    module = importlib.import_module("ansible_collections.mailrelay.smtp.plugins.modules." + name)
    docs = yaml.safe_load(module.DOCUMENTATION)
    add_fragments(docs, module.__file__, FragmentLoader(), is_module=True)
    return docs


def documented_options(module_name):
    docs = merged_docs(module_name)
    return docs, docs.get("options") or {}


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
    docs, options = documented_options(name)
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


@pytest.mark.parametrize("name", MODULES)
def test_shared_attributes_notes_and_references_come_from_the_fragments(name):
    docs = merged_docs(name)
    attributes = docs["attributes"]
    assert set(attributes) == {"action", "check_mode", "diff_mode", "platform", "idempotent", "action_group"}
    for attribute, value in attributes.items():
        assert value.get("support") in ("full", "partial", "none") and value.get("description"), (attribute, value)
    assert attributes["platform"]["platforms"] == "windows"
    assert attributes["action_group"]["membership"] == ["mailrelay.smtp.exchange"]
    assert attributes["idempotent"]["support"] == ("partial" if name == "exchange_send_connector" else "full")
    assert attributes["diff_mode"]["support"] == ("none" if name == "exchange_info" else "full")
    assert sum("docs/exchange.md" in note for note in docs["notes"]) == 1
    references = [entry.get("module") or entry.get("link") for entry in docs["seealso"]]
    assert "ansible.windows.win_powershell" in references and "mailrelay.smtp." + name not in references
    assert len(references) == len(set(references))
