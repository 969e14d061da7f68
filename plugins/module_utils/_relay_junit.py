# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A relay audit report as JUnit XML, the format CI systems show as test runs.

One ``<testsuite>`` per audited server (named by its target), one
``<testcase>`` per case. A failed case carries ``<failure>``, an inconclusive
one ``<error>`` (``<skipped>`` when inconclusive cases are allowed), a
skipped one ``<skipped>``; the SMTP transcript is the element's text (or
``<system-out>`` for the others). Several audits may share one file: a suite
of the same name is replaced, the others are kept. Every secret given is
masked wherever it would appear, and characters XML 1.0 cannot carry are
dropped.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import base64
import os
import re
import tempfile
import xml.etree.ElementTree as ET

MASK = "********"
# Characters outside XML 1.0's Char production.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class JUnitError(Exception):
    """The report file exists but is not a JUnit report this writer can extend."""


def secret_forms(username=None, password=None):
    """The password as typed and as it travels in AUTH LOGIN/PLAIN (base64), for masking."""
    if not password:
        return []
    forms = [password, base64.b64encode(password.encode("utf-8")).decode("ascii")]
    if username:
        plain = b"\0" + username.encode("utf-8") + b"\0" + password.encode("utf-8")
        forms.append(base64.b64encode(plain).decode("ascii"))
    return forms


class _Masker(object):
    def __init__(self, secrets):
        # Longest first, so that no secret is left half-masked by a shorter one inside it.
        self.secrets = sorted((s for s in secrets if s), key=len, reverse=True)

    def __call__(self, value):
        text = _NOT_XML.sub("", "%s" % ("" if value is None else value))
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def _seconds(value):
    return "%.3f" % float(value or 0)


def _case_element(case, classname, allow_inconclusive, mask):
    element = ET.Element("testcase", {"name": mask(case["name"]), "classname": mask(classname),
                                      "time": _seconds(case.get("seconds"))})
    transcript = "\n".join(case.get("transcript") or [])
    reason = case.get("reason") or ""
    verdict = case.get("verdict")
    if verdict == "fail":
        child = ET.SubElement(element, "failure", {"message": mask(reason), "type": "fail"})
        child.text = mask(transcript)
    elif verdict == "inconclusive" and not allow_inconclusive:
        child = ET.SubElement(element, "error", {"message": mask(reason), "type": "inconclusive"})
        child.text = mask(transcript)
    elif verdict in ("skipped", "inconclusive"):
        prefix = "inconclusive (allowed): " if verdict == "inconclusive" else ""
        ET.SubElement(element, "skipped", {"message": mask(prefix + reason)})
    if verdict != "fail" and not (verdict == "inconclusive" and not allow_inconclusive) and transcript:
        ET.SubElement(element, "system-out").text = mask("%s: %s\n%s" % (verdict, reason, transcript))
    return element


def build_testsuite(report, secrets=(), allow_inconclusive=False, timestamp=None, hostname=None, error=None):
    """The ``<testsuite>`` of one audit ``report`` (the dict run_audit returns).

    ``error`` (text) stands for an audit that could not run: the suite then
    holds one ``<error>`` testcase named ``audit``.
    """
    mask = _Masker(secrets)
    target = report.get("target") or "relay_audit"
    role = target.rsplit("(", 1)[-1].rstrip(")") if "(" in target else "audit"
    classname = "relay_audit.%s" % role
    cases = [] if error else list(report.get("cases") or [])
    attributes = {"name": mask(target), "tests": str(max(len(cases), 1) if error else len(cases)),
                  "failures": str(sum(1 for c in cases if c.get("verdict") == "fail")),
                  "errors": str(1 if error else sum(1 for c in cases
                                                    if c.get("verdict") == "inconclusive" and not allow_inconclusive)),
                  "skipped": str(sum(1 for c in cases if c.get("verdict") == "skipped"
                                     or (c.get("verdict") == "inconclusive" and allow_inconclusive))),
                  "time": _seconds(sum(float(c.get("seconds") or 0) for c in cases))}
    if timestamp:
        attributes["timestamp"] = timestamp
    if hostname:
        attributes["hostname"] = mask(hostname)
    suite = ET.Element("testsuite", attributes)
    properties = ET.SubElement(suite, "properties")
    for name in ("foreign_domain", "tls_verified", "summary"):
        if report.get(name) is not None:
            ET.SubElement(properties, "property", {"name": name, "value": mask(report[name])})
    if error:
        case = ET.SubElement(suite, "testcase", {"name": "audit", "classname": classname, "time": _seconds(0)})
        ET.SubElement(case, "error", {"message": mask(error), "type": "not-audited"}).text = mask(error)
    for case in cases:
        suite.append(_case_element(case, classname, allow_inconclusive, mask))
    return suite


def _read_suites(path):
    if not os.path.exists(path):
        return []
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise JUnitError("%s is not a readable JUnit XML report: %s" % (path, exc))
    if root.tag == "testsuite":
        return [root]
    if root.tag != "testsuites":
        raise JUnitError("%s is not a JUnit XML report (root element <%s>)" % (path, root.tag))
    return [child for child in root if child.tag == "testsuite"]


def merge(suites, suite):
    """``suites`` with ``suite`` in place of any suite of the same name (else appended)."""
    name = suite.get("name")
    kept = [existing for existing in suites if existing.get("name") != name]
    return kept + [suite]


def testsuites_element(suites, name="relay_audit"):
    root = ET.Element("testsuites", {"name": name})
    for counter in ("tests", "failures", "errors", "skipped"):
        root.set(counter, str(sum(int(suite.get(counter) or 0) for suite in suites)))
    root.set("time", _seconds(sum(float(suite.get("time") or 0) for suite in suites)))
    for suite in suites:
        root.append(suite)
    return root


def to_bytes(root):
    if hasattr(ET, "indent"):  # Python 3.9+
        ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def write_report(path, suite):
    """Put ``suite`` into the JUnit file ``path`` (created, or merged by suite name); atomic replace."""
    root = testsuites_element(merge(_read_suites(path), suite))
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise JUnitError("the directory of %s does not exist" % path)
    handle, temporary = tempfile.mkstemp(prefix=".relay-audit-", suffix=".xml", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(to_bytes(root))
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
