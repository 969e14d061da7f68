# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/diagram.yml and the lab diagram the README shows (docs/lab-topology.dot and .svg).

The committed DOT source must be exactly what the tool writes for the lab
description today. The committed SVG is compared by what it shows (node and
edge names, every drawn text), not byte for byte: Graphviz places things a
little differently from release to release (Debian 12 and 13 need not ship
the same one), and its version is written into the file.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from xml.etree import ElementTree

import yaml

from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology, _topology_diagram
from ansible_collections.mailrelay.smtp.tests.unit.roles.conftest import ANSIBLE_PLAYBOOK, COLLECTIONS_ROOT, SMTP_ROOT

DOC = os.path.join(SMTP_ROOT, "docs", "diagram.md")
LAB_DOT = os.path.join(SMTP_ROOT, "docs", "lab-topology.dot")
LAB_SVG = os.path.join(SMTP_ROOT, "docs", "lab-topology.svg")
LAB_TOPOLOGY = os.path.join(SMTP_ROOT, "inventories", "lab", "group_vars", "all", "topology.yml")
# The commands docs/diagram.md shows, run here exactly as written (from the collection's root).
DRAW = "ansible-playbook -i inventories/lab mailrelay.smtp.diagram"
REFRESH = "ansible-playbook -i inventories/lab mailrelay.smtp.diagram -e mailrelay_diagram_dest=docs/lab-topology.svg"
SVG = "{http://www.w3.org/2000/svg}"
REFRESH_HINT = "the lab description changed: refresh the committed diagram with `%s`" % REFRESH


def lab_description():
    with open(LAB_TOPOLOGY) as handle:
        return yaml.safe_load(handle)["mailrelay_topology"]


def read(path):
    with open(path) as handle:
        return handle.read()


def shown(svg_text):
    """What an SVG shows: every element's title and drawn text, in document order."""
    root = ElementTree.fromstring(svg_text.encode())
    return [(element.tag.replace(SVG, ""), (element.text or "").strip()) for element in root.iter() if element.tag in (SVG + "title", SVG + "text")]


def run_doc_command(command, cwd):
    assert command in read(DOC), "docs/diagram.md no longer shows: " + command
    argv = shlex.split(command)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_LOCAL_TEMP=str(cwd / ".tmp"), ANSIBLE_HOME=str(cwd / ".home"))
    env.pop("ANSIBLE_CONFIG", None)
    process = subprocess.run([ANSIBLE_PLAYBOOK] + argv[1:], cwd=str(cwd), env=env, capture_output=True, text=True, timeout=300, check=False)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    report = json.loads(process.stdout)
    return report["stats"]["localhost"], [task["hosts"]["localhost"] for task in report["plays"][0]["tasks"]]


def lab_checkout(tmp_path):
    shutil.copytree(os.path.join(SMTP_ROOT, "inventories"), str(tmp_path / "inventories"))
    return tmp_path


def test_the_committed_dot_is_what_the_tool_writes_for_the_lab():
    assert read(LAB_DOT) == _topology_diagram.dot_source(_topology.normalize(lab_description())), REFRESH_HINT


def test_the_committed_svg_shows_the_committed_dot():
    rendered = subprocess.run(["dot", "-Tsvg", LAB_DOT], capture_output=True, text=True, check=True).stdout
    committed = read(LAB_SVG)
    assert shown(committed) == shown(rendered), REFRESH_HINT
    texts = [text for tag, text in shown(committed) if tag == "text"]
    # Spot checks that the comparison sees the content: each job's address and the trust line.
    for line in ("127.0.1.11 port 587", "127.0.1.12 port 25", "127.0.1.13 port 25", "relays to any domain for: 127.0.1.11"):
        assert line in texts
    assert "lab-demo-Pa55" not in committed and "lab-demo-Pa55" not in read(LAB_DOT)


def test_the_playbook_draws_the_lab_where_it_says(tmp_path):
    checkout = lab_checkout(tmp_path)
    stats, results = run_doc_command(DRAW, checkout)
    assert stats["changed"] == 2 and not stats["failures"]
    svg, dot = checkout / "mailrelay-topology.svg", checkout / "mailrelay-topology.dot"
    assert results[-1]["msg"] == "Topology diagram: %s (DOT source: %s)" % (svg, dot)
    assert dot.read_text() == read(LAB_DOT)
    assert shown(svg.read_text()) == shown(read(LAB_SVG))
    # A second run finds both files as they should be.
    stats, dummy = run_doc_command(DRAW, checkout)
    assert stats["changed"] == 0


def test_refreshing_the_committed_diagram_changes_nothing(tmp_path):
    checkout = lab_checkout(tmp_path)
    (checkout / "docs").mkdir()
    shutil.copy(LAB_DOT, str(checkout / "docs"))
    shutil.copy(LAB_SVG, str(checkout / "docs"))
    stats, dummy = run_doc_command(REFRESH, checkout)
    assert stats["changed"] == 0, REFRESH_HINT
    assert (checkout / "docs" / "lab-topology.dot").read_text() == read(LAB_DOT)


def test_a_changed_description_is_drawn_again(tmp_path):
    checkout = lab_checkout(tmp_path)
    run_doc_command(DRAW, checkout)
    topology_file = checkout / "inventories" / "lab" / "group_vars" / "all" / "topology.yml"
    topology_file.write_text(re.sub(r"127\.0\.1\.12\b", "127.0.1.14", topology_file.read_text()))
    stats, dummy = run_doc_command(DRAW, checkout)
    assert stats["changed"] == 2
    assert "127.0.1.14 port 25" in [text for tag, text in shown((checkout / "mailrelay-topology.svg").read_text())]
