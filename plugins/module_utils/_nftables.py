# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One nftables table of the collection's own: render, compare, check, load, confirm.

Only the named table is ever read or written; every other table (the host's
own firewall, Docker's...) is left exactly as it is: no ``flush ruleset``.

- ``render_table`` writes chains of rule dicts (see ``_publishing``) in the
  exact form ``nft list table`` prints, so the listing of a loaded table
  compares equal to what was rendered and a re-run changes nothing.
- ``apply`` checks the new table with ``nft -c`` and loads it in one
  transaction (declare, delete, define: atomic, never a moment without rules).
  With ``confirm_timeout`` it first starts a detached watchdog that restores the
  previous table unless ``confirm`` is called in time: "commit confirmed".

Host access only through the ``run(argv)`` and ``spawn(argv)`` arguments.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import shlex

FAMILIES = ("inet", "ip", "ip6")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
_HANDLE = re.compile(r"\s+# handle \d+$")
MIN_CONFIRM_TIMEOUT = 5
MAX_CONFIRM_TIMEOUT = 3600


class NftError(Exception):
    """A check, load or confirm that failed; the message says which and why."""


def valid_name(name):
    return isinstance(name, str) and bool(_NAME.match(name))


def _quote(text):
    if '"' in text or "\\" in text or "\n" in text:
        raise ValueError("%r cannot be quoted for nft" % text)
    return '"%s"' % text


def _set(items):
    items = list(items)
    return items[0] if len(items) == 1 else "{ %s }" % ", ".join(items)


def _address_key(text):
    network = ipaddress.ip_network(text, strict=False)
    return (network.version, int(network.network_address), network.prefixlen)


def _address_text(text):
    network = ipaddress.ip_network(text, strict=False)
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def render_rule(rule):
    """One rule dict as the statement ``nft list`` prints for it."""
    parts = []
    if rule.get("iif") == "lo":
        parts.append("iif %s" % _quote("lo"))
    elif rule.get("iif"):
        parts.append("iifname %s" % _quote(rule["iif"]))
    if rule.get("not_iif"):
        parts.append("iifname != %s" % _quote(rule["not_iif"]))
    if rule.get("oif"):
        parts.append("oifname %s" % _quote(rule["oif"]))
    for direction in ("saddr", "daddr"):
        addresses = rule.get(direction) or []
        if addresses:
            addresses = sorted(set(_address_text(item) for item in addresses), key=_address_key)
            parts.append("%s %s %s" % (rule["family"], direction, _set(addresses)))
    protocols = tuple(rule.get("protocols") or ())
    ports = sorted(set(rule.get("dports") or []))
    if ports and len(protocols) == 1:
        parts.append("%s dport %s" % (protocols[0], _set(str(port) for port in ports)))
    elif ports:
        parts.append("meta l4proto %s th dport %s" % (_set(protocols), _set(str(port) for port in ports)))
    elif protocols:
        parts.append("meta l4proto %s" % _set(protocols))
    if rule.get("ct_state"):
        parts.append("ct state %s" % rule["ct_state"])
    if rule.get("ct_dnat"):
        parts.append("ct status dnat")
    if rule.get("dnat"):
        target = ipaddress.ip_address(rule["dnat"]["address"])
        host = "[%s]" % target if target.version == 6 else str(target)
        parts.append("dnat %s to %s:%d" % ("ip6" if target.version == 6 else "ip", host, rule["dnat"]["port"]))
    if rule.get("verdict"):
        parts.append(rule["verdict"])
    if rule.get("comment"):
        parts.append("comment %s" % _quote(rule["comment"]))
    return " ".join(parts)


def render_table(family, name, chains):
    """The whole table, byte for byte as ``nft list table FAMILY NAME`` prints it."""
    lines = ["table %s %s {" % (family, name)]
    for index, chain in enumerate(chains):
        if index:
            lines.append("")
        lines.append("\tchain %s {" % chain["name"])
        lines.append("\t\ttype %s hook %s priority %s; policy %s;" % (chain["type"], chain["hook"], chain["priority"], chain["policy"]))
        lines.extend("\t\t" + render_rule(rule) for rule in chain["rules"])
        lines.append("\t}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def normalize_listing(text):
    """The lines that carry meaning: no handles, no blank lines, no indentation differences."""
    lines = []
    for line in (text or "").splitlines():
        line = _HANDLE.sub("", line).strip()
        if line:
            lines.append(line)
    return lines


def check_content(family, name, content):
    """Refuse a definition that would touch anything but table FAMILY NAME; returns problems as (field, message)."""
    problems = []
    if family not in FAMILIES:
        problems.append(("family", "%r is not one of %s" % (family, ", ".join(FAMILIES))))
    if not valid_name(name):
        problems.append(("name", "%r is not a table name (a letter, then letters, digits, _ -; at most 32)" % (name,)))
    if content is None:
        return problems
    lines = normalize_listing(content)
    if not lines or lines[0] != "table %s %s {" % (family, name) or lines[-1] != "}":
        problems.append(("content", "must be exactly one definition 'table %s %s { ... }'" % (family, name)))
    depth = 0
    for number, line in enumerate(lines, 1):
        words = line.split()
        if depth == 0 and number > 1:
            problems.append(("content", "line %d is outside the table: %s" % (number, line)))
        if words and words[0] in ("flush", "delete", "include", "define", "table") and number > 1:
            problems.append(("content", "line %d: %r is not allowed inside the collection's table" % (number, words[0])))
        depth += line.count("{") - line.count("}")
    return problems


class Table:
    """The collection's table FAMILY NAME on one host; ``run(argv, stdin=None) -> (rc, stdout, stderr)``."""

    def __init__(self, family, name, run, state_dir):
        self.family = family
        self.name = name
        self.run = run
        self.state_dir = state_dir
        base = os.path.join(state_dir, "%s-%s" % (family, name))
        self.new_file = base + ".nft"
        self.rollback_file = base + ".rollback.nft"
        self.pending_file = base + ".pending.nft"
        self.restoring_file = _restoring_file(self.pending_file)
        self.rolled_back_file = base + ".rolled-back.nft"

    def read(self):
        """The current listing, or None when the table does not exist."""
        rc, out, err = self.run(["nft", "list", "table", self.family, self.name])
        if rc != 0:
            if "No such file or directory" in err:
                return None
            raise NftError("nft list table %s %s failed: %s" % (self.family, self.name, err.strip()))
        return out

    def _replacement(self, content):
        # Declaring first makes the delete safe when the table is absent; nft -f runs the
        # whole file as one transaction, so the host is never without the table's rules.
        text = "table %s %s\ndelete table %s %s\n" % (self.family, self.name, self.family, self.name)
        return text + (content or "")

    def _write(self, path, text):
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        scratch = path + ".tmp"
        with open(scratch, "w") as handle:
            handle.write(text)
        os.replace(scratch, path)

    def _load(self, path, check_only=False):
        argv = ["nft", "-c", "-f", path] if check_only else ["nft", "-f", path]
        rc, out, err = self.run(argv)
        if rc != 0:
            raise NftError("%s: %s" % (" ".join(argv), (err or out).strip()))

    def plan(self, content):
        """``(before, after, changed)``: listings as normalised text for the diff."""
        current = self.read()
        before = "\n".join(normalize_listing(current)) + "\n" if current is not None else ""
        after = "\n".join(normalize_listing(content)) + "\n" if content is not None else ""
        return before, after, before != after

    def check(self, content):
        """``nft -c`` of the replacement, read from stdin: check mode writes no file."""
        rc, out, err = self.run(["nft", "-c", "-f", "-"], self._replacement(content))
        if rc != 0:
            raise NftError("nft -c -f: %s" % (err or out).strip())

    def pending(self):
        return os.path.exists(self.pending_file)

    def apply(self, content, confirm_timeout=0, spawn=None):
        """Check, then load ``content`` (None: remove the table); returns the previous listing or None.

        With ``confirm_timeout`` seconds, ``spawn`` starts a detached watchdog
        before the load: unless ``confirm`` removes the pending restore file in
        time, the watchdog loads it and the previous table is back.
        """
        if self.pending():
            raise NftError("an earlier change of table %s %s still awaits confirmation (%s): confirm it or wait for its restore"
                           % (self.family, self.name, self.pending_file))
        previous = self.read()
        self._write(self.new_file, self._replacement(content))
        self._load(self.new_file, check_only=True)
        if confirm_timeout:
            self._write(self.rollback_file, self._replacement(previous))
            # The restore must itself be loadable, or rolling back would fail when it matters.
            self._load(self.rollback_file, check_only=True)
            if os.path.exists(self.rolled_back_file):
                os.remove(self.rolled_back_file)
            os.replace(self.rollback_file, self.pending_file)
            spawn(watchdog_argv(self.pending_file, self.rolled_back_file, confirm_timeout))
        try:
            self._load(self.new_file)
        except NftError:
            if confirm_timeout and os.path.exists(self.pending_file):
                os.remove(self.pending_file)  # nothing was loaded: nothing to restore
            raise
        return previous

    def confirm(self):
        """Keep the loaded change: True if one was pending; an error if the watchdog already restored."""
        try:
            os.remove(self.pending_file)
            return True
        except FileNotFoundError:
            pass
        if os.path.exists(self.restoring_file):
            raise NftError("the change of table %s %s was not confirmed in time and the previous table is being restored (%s)"
                           % (self.family, self.name, self.restoring_file))
        if os.path.exists(self.rolled_back_file):
            raise NftError("the change of table %s %s was not confirmed in time and the previous table was restored (%s)"
                           % (self.family, self.name, self.rolled_back_file))
        return False


def _restoring_file(pending_file):
    """The watchdog's lock: it renames the pending file here, loads it, then renames it rolled-back."""
    return pending_file + ".restoring"


def watchdog_argv(pending_file, rolled_back_file, timeout):
    """A shell that waits ``timeout`` seconds, then restores unless the pending file is gone.

    The rename is the lock: confirm and restore cannot both win.
    """
    if not MIN_CONFIRM_TIMEOUT <= int(timeout) <= MAX_CONFIRM_TIMEOUT:
        raise ValueError("confirm timeout must be between %d and %d seconds" % (MIN_CONFIRM_TIMEOUT, MAX_CONFIRM_TIMEOUT))
    restoring = _restoring_file(pending_file)
    script = "sleep %d; if mv %s %s 2>/dev/null; then nft -f %s && mv %s %s; fi" % (
        int(timeout), shlex.quote(pending_file), shlex.quote(restoring), shlex.quote(restoring),
        shlex.quote(restoring), shlex.quote(rolled_back_file))
    return ["/bin/sh", "-c", script]


def unified_diff(before, after, name):
    """The rules that change, as a unified diff (empty when nothing does)."""
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), name + " (loaded)", name + " (wanted)"))
