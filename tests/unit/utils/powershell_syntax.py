# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parse the collection's PowerShell payloads without PowerShell (tree-sitter grammar).

Used by the payload tests: every payload must parse without errors, declare
its inputs in a ``param()`` block, and never build script text from data.
"""

from __future__ import annotations

import re

import tree_sitter_powershell
from tree_sitter import Language, Parser

from ansible_collections.mailrelay.smtp.tests.unit.utils import windows_action

_PARSER = Parser(Language(tree_sitter_powershell.language()))
# The payload tests list the payloads through this module too.
payload_names = windows_action.payload_names


def parse(text):
    """Return the tree-sitter tree of PowerShell ``text``."""
    return _PARSER.parse(text.encode("utf-8"))


def syntax_errors(tree):
    """(line, column, text) of every ERROR or missing node."""
    found = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            line, column = node.start_point
            found.append((line + 1, column + 1, node.text.decode("utf-8", "replace")[:60]))
        stack.extend(node.children)
    return sorted(found)


def nodes_of_type(tree, *types):
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type in types:
            yield node
        stack.extend(node.children)


def declared_parameters(tree):
    """Names (without ``$``) declared in the script's top-level ``param()`` block."""
    names = []
    for block in nodes_of_type(tree, "param_block"):
        if block.parent is not None and block.parent.type == "program":
            for parameter in nodes_of_type_in(block, "script_parameter"):
                for variable in nodes_of_type_in(parameter, "variable"):
                    names.append(variable.text.decode("utf-8").lstrip("$"))
                    break
    return names


def nodes_of_type_in(node, *types):
    stack = list(node.children)
    while stack:
        child = stack.pop(0)
        if child.type in types:
            yield child
        stack.extend(child.children)


# Commands and methods that turn a string into code: a payload must not use them,
# because user data would then become script text.
_CODE_FROM_STRING = re.compile(
    r"\b(invoke-expression|iex)\b|\[scriptblock\]::create|\.addscript\s*\(|newscriptblock",
    re.IGNORECASE,
)


def code_from_string_uses(text):
    return [match.group(0) for match in _CODE_FROM_STRING.finditer(text)]
