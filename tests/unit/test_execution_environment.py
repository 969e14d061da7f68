# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The execution environment's requirements match the code and galaxy.yml.

meta/execution-environment.yml is what ansible-builder reads for this
collection inside any image; ee/execution-environment.yml is the image the
docs show how to build (docs/execution-environment.md).
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys

import yaml

from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(_topology.__file__))))
# .../ansible_collections/mailrelay/smtp -> the directory that holds ansible_collections
COLLECTIONS_ROOT = os.path.abspath(os.path.join(ROOT, "..", "..", ".."))
# Distribution names of third-party modules a plugin could import.
DISTRIBUTIONS = {"winrm": "pywinrm", "pypsrp": "pypsrp", "yaml": "pyyaml", "jinja2": "jinja2", "requests": "requests",
                 "cryptography": "cryptography", "dns": "dnspython"}
# Not imported by any plugin: ansible-core's own winrm and psrp connection plugins need them on the controller
# to reach the Windows hosts the IIS SMTP and Exchange action plugins manage (docs/windows.md).
CONNECTION_LIBRARIES = {"pywinrm": "winrm", "pypsrp": "psrp"}
CONNECTION_IMPORTS = {"pywinrm": "winrm", "pypsrp": "pypsrp"}
# Ansible itself brings these along.
WITH_ANSIBLE = {"ansible", "ansible_collections", "__future__", "yaml", "jinja2"}


def load_yaml(*parts):
    with open(os.path.join(ROOT, *parts)) as handle:
        return yaml.safe_load(handle)


def requirement_names(path):
    names = {}
    with open(path) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line:
                name = re.match(r"^[A-Za-z0-9._-]+", line).group(0).lower()
                names[name] = line
    return names


def _imports(tree):
    """``(top-level module, full name)`` of every absolute import in a parsed file, nested ones included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.module


def third_party_imports():
    """Top-level module names that plugins/ imports, outside the standard library and Ansible: {name: [files]}."""
    found = {}
    for folder, dummy, files in os.walk(os.path.join(ROOT, "plugins")):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path) as handle:
                tree = ast.parse(handle.read(), path)
            for top, dummy in _imports(tree):
                if top not in sys.stdlib_module_names and top not in WITH_ANSIBLE:
                    found.setdefault(top, []).append(os.path.relpath(path, ROOT))
    return found


def test_the_collection_points_ansible_builder_at_its_requirement_files():
    meta = load_yaml("meta", "execution-environment.yml")
    assert meta["version"] == 3
    # ansible-builder resolves a collection's files from the collection's root.
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    for name in meta["dependencies"].values():
        assert os.path.isfile(os.path.join(ROOT, name))


def test_every_third_party_import_is_a_requirement():
    required = requirement_names(os.path.join(ROOT, "requirements.txt"))
    missing = {module: files for module, files in third_party_imports().items() if DISTRIBUTIONS.get(module, module).lower() not in required}
    assert not missing, "imported by plugins/ but not in requirements.txt: %s" % missing


def test_every_requirement_is_imported_or_a_connection_library():
    imported = {DISTRIBUTIONS.get(module, module).lower() for module in third_party_imports()}
    required = requirement_names(os.path.join(ROOT, "requirements.txt"))
    assert set(required) == imported | set(CONNECTION_LIBRARIES)
    # Each is what the ansible-core connection plugin of its name imports.
    for library, connection in CONNECTION_LIBRARIES.items():
        module = importlib.import_module("ansible.plugins.connection." + connection)
        with open(module.__file__) as handle:
            imported_there = {top for top, dummy in _imports(ast.parse(handle.read()))}
        assert CONNECTION_IMPORTS[library] in imported_there


def test_the_controller_requirements_are_those_the_tests_install():
    """What CI tests the collection with (requirements-dev.txt) includes every controller requirement, same bounds."""
    development = requirement_names(os.path.join(ROOT, "requirements-dev.txt"))
    for name, line in requirement_names(os.path.join(ROOT, "requirements.txt")).items():
        assert development.get(name) == line


def test_system_packages_are_bindep_lines_for_debian_and_red_hat():
    with open(os.path.join(ROOT, "bindep.txt")) as handle:
        lines = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    packages = {}
    for line in lines:
        match = re.match(r"^([a-z0-9][a-z0-9.+-]*)(?: \[((?:!?platform:[a-z0-9]+ ?)+)\])?$", line)
        assert match, "not a bindep line: %r" % line
        for platform in (match.group(2) or "platform:dpkg platform:rpm").split():
            packages.setdefault(platform, set()).add(match.group(1))
    # The diagram playbook runs dot on the controller; Postfix hosts are reached over SSH.
    assert {"graphviz", "openssh-client"} <= packages["platform:dpkg"]
    assert {"graphviz", "openssh-clients"} <= packages["platform:rpm"]


def test_the_image_installs_this_collection_as_galaxy_yml_builds_it():
    galaxy = load_yaml("galaxy.yml")
    ee = load_yaml("ee", "execution-environment.yml")
    assert ee["version"] == 3
    tarball = "%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"])
    assert ee["dependencies"]["galaxy"]["collections"] == [{"name": "src/" + tarball, "type": "file"}]
    assert ee["additional_build_files"] == [{"src": "../build/ee/" + tarball, "dest": "src"}]
    assert ee["options"]["tags"] == ["mailrelay-ee:%s" % galaxy["version"]]


def test_the_image_ansible_core_fits_what_the_collection_requires():
    requires = load_yaml("meta", "runtime.yml")["requires_ansible"]
    core = load_yaml("ee", "execution-environment.yml")["dependencies"]["ansible_core"]["package_pip"]
    assert core.startswith("ansible-core" + requires + ",")
    development = requirement_names(os.path.join(ROOT, "requirements-dev.txt"))["ansible-core"]
    # The image's upper bound is the one CI tests with.
    assert core.split(",")[-1] == development.split(",")[-1]


def test_the_import_scan_sees_every_kind_of_import():
    tree = ast.parse("import winrm\nfrom pypsrp.client import Client\nfrom . import sibling\n\ndef later():\n    import yaml.constructor\n")
    assert sorted(_imports(tree)) == [("pypsrp", "pypsrp.client"), ("winrm", "winrm"), ("yaml", "yaml.constructor")]


def doc_blocks(language):
    with open(os.path.join(ROOT, "docs", "execution-environment.md")) as handle:
        return re.findall(r"```%s\n(.*?)```" % language, handle.read(), re.S)


def test_the_docs_build_commands_are_the_ones_the_ee_stage_runs():
    with open(os.path.join(ROOT, "scripts", "run-tests.sh")) as handle:
        stage = re.search(r"^stage_ee\(\) \{\n(.*?)^\}", handle.read(), re.S | re.M).group(1)
    stage_lines = [line.strip() for line in stage.splitlines()]
    commands = [line for block in doc_blocks("sh") for line in block.splitlines() if line.strip()]
    run_here = [command for command in commands if not command.startswith("podman ")]
    assert len(run_here) == 2 and all(command in stage_lines for command in run_here)


def test_the_docs_awx_playbooks_import_the_collections_playbooks(tmp_path):
    blocks = doc_blocks("yaml")
    assert len(blocks) == 2
    for block in blocks:
        name = re.match(r"# (\w+\.yml)\n", block).group(1)
        playbook = yaml.safe_load(block)
        assert playbook == [{"ansible.builtin.import_playbook": "mailrelay.smtp." + name[:-4]}]
        (tmp_path / name).write_text(block)
        process = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(tmp_path / name)],
            env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_HOME=str(tmp_path / "home")),
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert process.returncode == 0, process.stdout + process.stderr
