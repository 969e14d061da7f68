# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The build context `ansible-builder create` wrote (`scripts/run-tests.sh ee`) builds the image the docs promise.

No container engine runs here, so the image is not built; what is checked is
everything the build would use: the Containerfile's base image and Ansible,
the collection tarball and what it holds, and the requirements the image's
own introspection step (the context's introspect.py, as the Containerfile runs
it) finds for this collection.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTEXT = os.path.join(ROOT, "build", "ee", "context")


def load_yaml(*parts):
    with open(os.path.join(*parts)) as handle:
        return yaml.safe_load(handle)


def lines_of(path):
    with open(path) as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


GALAXY = load_yaml(ROOT, "galaxy.yml")
EE = load_yaml(ROOT, "ee", "execution-environment.yml")
TARBALL = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])


def test_the_containerfile_builds_from_the_base_image_with_the_pinned_ansible():
    with open(os.path.join(CONTEXT, "Containerfile")) as handle:
        containerfile = handle.read()
    assert 'ARG EE_BASE_IMAGE="%s"' % EE["images"]["base_image"]["name"] in containerfile
    assert 'ARG ANSIBLE_INSTALL_REFS="%s ansible-runner"' % EE["dependencies"]["ansible_core"]["package_pip"] in containerfile
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    # The galaxy stage installs the requirements file, the builder stage introspects the installed collections.
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "introspect.py introspect" in containerfile


def test_the_context_holds_the_collection_as_galaxy_yml_builds_it():
    assert load_yaml(CONTEXT, "_build", "requirements.yml") == {"collections": [{"name": "src/" + TARBALL, "type": "file"}]}
    with tarfile.open(os.path.join(CONTEXT, "_build", "src", TARBALL)) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
        names = set(archive.getnames())
        meta = yaml.safe_load(archive.extractfile("meta/execution-environment.yml"))
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])
    # ansible.windows and community.windows come along as the collection's dependencies.
    assert manifest["dependencies"] == GALAXY["dependencies"]
    assert {"meta/execution-environment.yml", "requirements.txt", "bindep.txt", "playbooks/site.yml", "playbooks/diagram.yml"} <= names
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}


def test_the_image_introspection_finds_this_collections_requirements(tmp_path):
    """Install the tarball as the galaxy stage would, then run the context's introspect.py as the builder stage does."""
    collections = tmp_path / "collections"
    subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force",
         "-p", str(collections), os.path.join(CONTEXT, "_build", "src", TARBALL)],
        check=True, capture_output=True, text=True, env=dict(os.environ, ANSIBLE_HOME=str(tmp_path / "home")),
    )
    pip, bindep = tmp_path / "requirements.txt", tmp_path / "bindep.txt"
    subprocess.run(
        [sys.executable, os.path.join(CONTEXT, "_build", "scripts", "introspect.py"), "introspect",
         "--write-pip=%s" % pip, "--write-bindep=%s" % bindep, str(collections)],
        check=True, capture_output=True, text=True,
    )
    name = "%s.%s" % (GALAXY["namespace"], GALAXY["name"])
    expected_pip = ["%s  # from collection %s" % (line, name) for line in lines_of(os.path.join(ROOT, "requirements.txt"))]
    expected_bindep = ["%s  # from collection %s" % (line, name) for line in lines_of(os.path.join(ROOT, "bindep.txt"))]
    assert lines_of(str(pip)) == expected_pip
    assert lines_of(str(bindep)) == expected_bindep
