#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: opendkim
short_description: Sign a Postfix hub's outbound mail with DKIM through an OpenDKIM milter
version_added: 0.1.0
description:
  - Converges, in one call, the OpenDKIM signers of a Postfix hub - their private keys (generated on the host,
    never returned), their configuration and their processes - and returns the public keys for DNS.
  - OpenDKIM signs with one algorithm per process, so there is one signer per algorithm, RSA on O(port) and
    Ed25519 on the next port; RV(milter) lists both for Postfix's C(smtpd_milters).
  - Only mail handed over by O(internal_hosts) (the submission servers) and by the hub itself (127.0.0.1) is
    signed; mail from anyone else, such as the inbound relays' mail from the Internet, passes unsigned.
  - Every key marked C(active) signs every message of the O(domains) (RSA, and Ed25519 in addition).
    Keys that are not active stay on the host, so they can be published before they sign, which makes
    rotation without downtime possible (C(docs/dns.md)).
  - Key files are C(0600), owned by the C(opendkim) user, in a C(0700) directory. A key file that exists is
    never replaced; keys of selectors no longer listed are removed only with O(prune=true).
  - The configuration is checked with C(opendkim -n) before it goes live; a running signer re-reads it on
    C(SIGUSR1), without a restart.
  - With O(state=read) nothing is generated or changed; the public keys of the existing key files are returned.
author: Mailrelay Maintainers (@mailrelay)
attributes:
  check_mode:
    support: full
    description: Reports the keys that would be generated or removed and the files that would change.
  diff_mode:
    support: full
    description: Shows the configuration files and the list of keys (never a private key).
  platform:
    support: full
    platforms: posix
    description: Runs on the managed host; Debian 12 and 13 with Debian's opendkim package are tested.
options:
  name:
    description: Name of the signer, normally the Postfix hub instance it serves (for example C(postfix-hub)).
    type: str
    required: true
  keys:
    description: Every key the signers hold. Required unless O(state=absent).
    type: list
    elements: dict
    suboptions:
      key_selector:
        description: The selector published in DNS (C(SELECTOR._domainkey.DOMAIN)).
        type: str
        required: true
      algorithm:
        description: C(rsa) (2048 bits) or C(ed25519).
        type: str
        required: true
        choices: [rsa, ed25519]
      active:
        description: Whether this key signs now. At least one key must be active (unless O(state=read)).
        type: bool
        default: false
      selector:
        description: The topology's selector this key belongs to (informational).
        type: str
  domains:
    description: The domains whose mail (by its C(From:) address) is signed.
    type: list
    elements: str
    default: []
  internal_hosts:
    description: Addresses or networks of the clients whose mail is signed, besides 127.0.0.1.
    type: list
    elements: str
    default: []
  address:
    description: The loopback address the milter listens on.
    type: str
    default: 127.0.0.1
  port:
    description: The TCP port the RSA signer listens on; the Ed25519 signer listens on the next one.
    type: int
    default: 8891
  prune:
    description: Remove the key files of selectors that are not in O(keys) (the last step of a rotation).
    type: bool
    default: true
  config_dir:
    description: Directory under which the signer keeps C(NAME/).
    type: path
    default: /etc/mailrelay/opendkim
  report_missing:
    description:
      - With V(true) and O(state=present), when OpenDKIM (C(/usr/sbin/opendkim)) is not installed the module changes
        nothing and returns RV(missing_packages), so that the caller installs it and calls again; a re-run on a host
        that has it then needs no separate package check (the C(mailrelay.smtp.hub) role does this).
    type: bool
    default: false
  state:
    description:
      - V(present) converges; V(read) only returns the public keys of the existing key files.
      - V(absent) stops the signer and removes its files, private keys included (the keys' DNS records become useless).
    type: str
    choices: [present, read, absent]
    default: present
seealso:
  - module: mailrelay.smtp.dns_records
  - module: mailrelay.smtp.postfix_instance
"""

EXAMPLES = r"""
- name: Sign the hub's outbound mail
  mailrelay.smtp.opendkim:
    name: postfix-hub
    keys:
      - {key_selector: mailrelay1-hub, algorithm: rsa, active: true}
      - {key_selector: mailrelay1-hub-ed25519, algorithm: ed25519, active: true}
    domains: [example.org]
    internal_hosts: [192.0.2.10]
  register: signer

- name: Read the public keys for DNS
  mailrelay.smtp.opendkim:
    name: postfix-hub
    keys: "{{ signer_keys }}"
    state: read
"""

RETURN = r"""
missing_packages:
  description: With O(report_missing), V([opendkim]) when it is not installed (then nothing else was done), else V([]).
  returned: always
  type: list
  elements: str
public_keys:
  description: The public key of every key file that exists, as the C(p=) value of its DKIM record.
  returned: always
  type: list
  elements: dict
  sample:
    - {key_selector: mailrelay1-hub, algorithm: rsa, active: true, public_key: MIIBIjANBgkq...}
generated:
  description: Key selectors whose key was generated (or would be, in check mode).
  returned: always
  type: list
  elements: str
removed:
  description: Key selectors whose key file was removed (or would be).
  returned: always
  type: list
  elements: str
missing:
  description: With O(state=read), key selectors without a key file.
  returned: always
  type: list
  elements: str
milter:
  description: The signers' milter addresses for Postfix's C(smtpd_milters).
  returned: always
  type: str
  sample: inet:127.0.0.1:8891, inet:127.0.0.1:8892
action:
  description: What was done to the signer processes (V(started), V(reloaded), V(stopped), joined by commas) or V(none).
  returned: always
  type: str
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dkim, _dkim_host

_USER = _dkim_host.USER
# Bounded wait for a signer to start or stop: 50 x 0.1 s.
_POLLS = 50


def _owner(module):
    try:
        entry = pwd.getpwnam(_USER)
    except KeyError:
        module.fail_json(msg="user %s does not exist; is the opendkim package installed?" % _USER)
    return entry.pw_uid, entry.pw_gid


def _write_atomic(path, text, mode):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".mailrelay-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _public_key(module, key):
    rc, out, err = module.run_command(["openssl", "pkey", "-in", key["path"], "-pubout"])
    if rc != 0:
        module.fail_json(msg="keys: cannot read %s: %s" % (key["path"], err.strip()))
    try:
        return _dkim.public_key(key["algorithm"], out)
    except ValueError as exc:
        module.fail_json(msg="keys: %s does not hold a %s key: %s" % (key["path"], key["algorithm"], exc))


def _generate(module, key, uid, gid):
    """A new private key, written under a temporary name and renamed, so no partial key is ever used."""
    old_umask = os.umask(0o077)
    try:
        tmp = key["path"] + ".new"
        rc, dummy, err = module.run_command(_dkim.generate_command(key["algorithm"], tmp))
        if rc != 0:
            module.fail_json(msg="keys: generating the %s key %s failed: %s" % (key["algorithm"], key["key_selector"], err.strip()))
        os.chmod(tmp, 0o600)
        os.chown(tmp, uid, gid)
        os.replace(tmp, key["path"])
    finally:
        os.umask(old_umask)


class _Signer(_dkim_host.SignerProcess):
    """One OpenDKIM process: through systemd when it runs, otherwise started directly."""

    def __init__(self, module, name, files):
        super().__init__(module.run_command, name, files)
        self.module = module

    def _run(self, argv):
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            self.module.fail_json(msg="%s failed: %s %s" % (" ".join(argv), out.strip(), err.strip()))

    def install_unit(self, text):
        _write_atomic(self.unit_path, text, 0o644)
        self._run(["systemctl", "daemon-reload"])
        self._run(["systemctl", "enable", self.files["unit"]])

    def start(self):
        if self.systemd:
            self._run(["systemctl", "start", self.files["unit"]])
        else:
            # opendkim daemonizes; it must not keep run_command's pipes open.
            with open(os.devnull, "r+b") as null:
                rc = subprocess.call(["/usr/sbin/opendkim", "-x", self.files["config"]], stdin=null, stdout=null, stderr=null)
            if rc != 0:
                self.module.fail_json(msg="opendkim did not start (rc=%s); check %s with opendkim -n -x" % (rc, self.files["config"]))
        for dummy in range(_POLLS):
            if self.running():
                return
            time.sleep(0.1)
        self.module.fail_json(msg="opendkim %s (%s) started but is not running" % (self.name, self.files["algorithm"]))

    def reload(self):
        """OpenDKIM re-reads its configuration and tables on SIGUSR1: no restart, no refused mail."""
        if self.systemd:
            self._run(["systemctl", "reload", self.files["unit"]])
            return
        pid = self.pid()
        if pid:
            os.kill(pid, signal.SIGUSR1)

    def stop(self):
        if self.systemd:
            if os.path.exists(self.unit_path):
                self._run(["systemctl", "disable", "--now", self.files["unit"]])
                os.unlink(self.unit_path)
                self._run(["systemctl", "daemon-reload"])
            return
        pid = self.pid()
        if not pid:
            return
        os.kill(pid, signal.SIGTERM)
        # OpenDKIM lets its milter threads finish first: allow it up to 3 x _POLLS x 0.1 s.
        for dummy in range(3 * _POLLS):
            if self.pid() is None:
                return
            time.sleep(0.1)
        self.module.fail_json(msg="opendkim %s (pid %d) did not stop" % (self.name, pid))


def _check_config(module, where, texts):
    """opendkim -n on a staged copy of a signer's files, so a bad configuration never goes live."""
    stage = tempfile.mkdtemp(prefix=".mailrelay-stage-", dir=where["dir"])
    try:
        staged = {
            "algorithm": texts["algorithm"],
            "key_table": stage + "/key.table",
            "signing_table": stage + "/signing.table",
            "internal_hosts": stage + "/internal.hosts",
            "pid": stage + "/pid",
        }
        files = {
            stage + "/opendkim.conf": texts["config_for"](staged),
            staged["key_table"]: texts["key_table"],
            staged["signing_table"]: texts["signing_table"],
            staged["internal_hosts"]: texts["internal_hosts"],
        }
        for path, text in files.items():
            _write_atomic(path, text, 0o644)
        rc, out, err = module.run_command(["/usr/sbin/opendkim", "-n", "-x", stage + "/opendkim.conf"])
        if rc != 0:
            module.fail_json(msg="the new OpenDKIM configuration is invalid, nothing was changed: %s %s" % (out.strip(), err.strip()))
    finally:
        shutil.rmtree(stage)


def _signers(module, name, where):
    return {algorithm: _Signer(module, name, _dkim.signer_paths(where, name, algorithm)) for algorithm in _dkim.ALGORITHMS}


def _absent(module, name, where):
    signers = _signers(module, name, where)
    running = [signer for signer in signers.values() if signer.running()]
    exists = os.path.isdir(where["dir"]) or any(os.path.exists(signer.unit_path) for signer in signers.values())
    result = dict(changed=bool(running) or exists, generated=[], removed=[], missing=[], milter="", public_keys=[], action="stopped" if running else "none")
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)
    for signer in signers.values():
        signer.stop()
    for path in (where["dir"], where["run_dir"]):
        if os.path.isdir(path):
            shutil.rmtree(path)
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            _dkim_host.signer_argument_spec(),
            state=dict(type="str", choices=["present", "read", "absent"], default="present"),
            report_missing=dict(type="bool", default=False),
        ),
        required_if=[("state", "present", ("keys",)), ("state", "read", ("keys",))],
        supports_check_mode=True,
    )
    params = module.params
    name = params["name"]
    try:
        where, domains, keys = _dkim_host.signer_set(params, params["state"])
    except _dkim_host.InputError as exc:
        module.fail_json(msg=str(exc), **(dict(problems=exc.problems) if exc.problems else {}))
    if params["state"] == "absent":
        _absent(module, name, where)
    algorithms = _dkim.algorithms_of(keys)
    try:
        milter = _dkim.milter(params["address"], params["port"], algorithms)
    except ValueError:
        module.fail_json(msg="address: %r is not an IP address" % params["address"])

    result = dict(changed=False, generated=[], removed=[], missing=[], milter=milter, action="none", public_keys=[], missing_packages=[])
    if params["report_missing"] and params["state"] == "present" and not os.path.exists(_dkim_host.OPENDKIM):
        result["missing_packages"] = ["opendkim"]
        module.exit_json(**result)

    def public_keys(selectors):
        return [
            {"key_selector": key["key_selector"], "algorithm": key["algorithm"], "active": key["active"], "public_key": _public_key(module, key)}
            for key in keys
            if key["key_selector"] in selectors
        ]

    if params["state"] == "read":
        existing = {key["key_selector"] for key in keys if os.path.exists(key["path"])}
        result.update(missing=[key["key_selector"] for key in keys if key["key_selector"] not in existing], public_keys=public_keys(existing))
        module.exit_json(**result)

    signers = _signers(module, name, where)
    planned = _dkim_host.plan(params, where, keys, domains, signers)
    generate, stale, plans, changed_files = planned["generate"], planned["stale"], planned["plans"], planned["changed_files"]
    result.update(
        generated=[key["key_selector"] for key in generate],
        removed=[os.path.basename(path)[: -len(".private")] for path in stale],
        action=planned["action"],
        changed=planned["changed"],
        diff=planned["diff"],
    )
    if module.check_mode:
        result["public_keys"] = public_keys(planned["existing"])
        module.exit_json(**result)

    uid, gid = _owner(module)
    for directory, mode, owner in ((where["dir"], 0o755, (0, 0)), (where["keys"], 0o700, (uid, gid)), (where["run_dir"], 0o755, (uid, gid))):
        os.makedirs(directory, mode=mode, exist_ok=True)
        os.chmod(directory, mode)
        os.chown(directory, *owner)
    for key in generate:
        _generate(module, key, uid, gid)
    for algorithm, plan in plans.items():
        files = signers[algorithm].files
        own_files = (files["config"], files["key_table"], files["signing_table"], where["internal_hosts"])
        if plan["texts"] is not None and any(path in changed_files for path in own_files):
            _check_config(module, where, plan["texts"])
    for path, text in changed_files.items():
        _write_atomic(path, text, 0o644)
    for algorithm, plan in plans.items():
        signer = signers[algorithm]
        if plan.get("unit") is not None:
            signer.install_unit(plan["unit"])
        if plan["action"] == "started":
            signer.start()
        elif plan["action"] == "reloaded":
            signer.reload()
        elif plan["action"] == "stopped":
            signer.stop()
        for path in plan["remove"]:
            os.unlink(path)
    # Removed only after the signers stopped using them.
    for path in stale:
        os.unlink(path)
    result["public_keys"] = public_keys({key["key_selector"] for key in keys})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
