# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ansible-playbook against a fake Windows host (tests/fakes/fake_windows_host.py).

No Windows runs here, so ansible.windows' modules are replaced by fakes
(tests/fakes/fake_ansible_windows/) that act on the fake host; everything
above them is real: playbooks, roles, action plugins and their payload calls.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.mailrelay.smtp.plugins.plugin_utils import _windows_rpc
from ansible_collections.mailrelay.smtp.tests.fakes.fake_windows_host import FakeWindowsHost

# .../ansible_collections/mailrelay/smtp, from plugins/plugin_utils/_windows_rpc.py
SMTP_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(_windows_rpc.__file__))))
COLLECTIONS_ROOT = os.path.abspath(os.path.join(SMTP_ROOT, "..", "..", ".."))
FAKES = os.path.join(SMTP_ROOT, "tests", "fakes")
ANSIBLE_PLAYBOOK = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or shutil.which("ansible-playbook")
FAKE_HOST = "winfake"


@pytest.fixture
def fake_windows(tmp_path):
    """``fake_windows(playbook, inventory=None, exchange=None)`` -> ``(play, host)``.

    ``playbook`` is YAML text or a playbook name such as ``mailrelay.smtp.site``;
    ``inventory`` is inventory text (default: only the fake host); ``exchange``
    a FakeExchange that the fake host also runs. ``play(*args)``
    runs ansible-playbook, asserts the fake host did not fail and returns
    ``(report, stats of the fake host)``; ``host()`` loads the fake host's state.
    """
    modules = tmp_path / "collections" / "ansible_collections" / "ansible" / "windows" / "plugins" / "modules"
    modules.mkdir(parents=True)
    (tmp_path / "collections" / "ansible_collections" / "ansible" / "windows" / "meta").mkdir()
    (tmp_path / "collections" / "ansible_collections" / "ansible" / "windows" / "meta" / "runtime.yml").write_text("requires_ansible: '>=2.16'\n")
    for name in ("win_powershell", "win_feature", "win_service", "win_reboot"):
        shutil.copy(os.path.join(FAKES, "fake_ansible_windows", "fake_module.py"), str(modules / (name + ".py")))
    # community.windows.win_firewall_rule (roles/windows_firewall) acts on the same fake host.
    community = tmp_path / "collections" / "ansible_collections" / "community" / "windows"
    (community / "plugins" / "modules").mkdir(parents=True)
    (community / "meta").mkdir()
    (community / "meta" / "runtime.yml").write_text("requires_ansible: '>=2.16'\n")
    shutil.copy(os.path.join(FAKES, "fake_ansible_windows", "fake_module.py"), str(community / "plugins" / "modules" / "win_firewall_rule.py"))
    state = tmp_path / "windows.pickle"
    (tmp_path / "ansible.cfg").write_text("[defaults]\nretry_files_enabled = false\n")
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH="%s:%s" % (tmp_path / "collections", COLLECTIONS_ROOT),
        ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
        ANSIBLE_HOME=str(tmp_path / "home"),
        MAILRELAY_FAKE_WINDOWS_STATE=str(state),
        MAILRELAY_FAKE_WINDOWS_DRIVER=os.path.join(FAKES, "fake_windows_host.py"),
        MAILRELAY_FAKE_COLLECTIONS_ROOT=COLLECTIONS_ROOT,
        MAILRELAY_FAKE_PYTHON=sys.executable,
    )

    def setup(playbook, inventory=None, exchange=None):
        FakeWindowsHost(exchange=exchange).save(str(state))
        (tmp_path / "inventory").write_text(
            inventory or "%s ansible_connection=local ansible_python_interpreter=%s\n" % (FAKE_HOST, sys.executable))
        if "\n" in playbook:
            (tmp_path / "site.yml").write_text(playbook)
            playbook = str(tmp_path / "site.yml")

        def play(*extra):
            process = subprocess.run(
                [ANSIBLE_PLAYBOOK, "-i", str(tmp_path / "inventory"), playbook] + list(extra),
                env=env, capture_output=True, text=True, timeout=300, check=False,
            )
            try:
                report = json.loads(process.stdout)
            except ValueError:
                raise AssertionError("ansible-playbook output is not JSON:\n%s\n%s" % (process.stdout[-3000:], process.stderr[-3000:]))
            stats = report["stats"][FAKE_HOST]
            failures = [task for playbook_run in report["plays"] for task in playbook_run["tasks"]
                        if task["hosts"].get(FAKE_HOST, {}).get("failed")]
            assert process.returncode == 0 and not stats["failures"], json.dumps(failures, indent=1)[:4000]
            return report, stats

        def host():
            return FakeWindowsHost.load(str(state))

        return play, host

    return setup
