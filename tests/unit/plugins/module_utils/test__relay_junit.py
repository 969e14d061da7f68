# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The JUnit XML writer: the common JUnit schema's shape, verdict mapping, masking, merging."""
from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _relay_junit as junit

PASSWORD = "s3cret-Pa55"
USERNAME = "alice@own.example"
PLAIN = base64.b64encode(b"\0" + USERNAME.encode() + b"\0" + PASSWORD.encode()).decode()

# The shape of the JUnit schema CI systems read (Jenkins' junit-10 XSD, as GitLab and GitHub
# reporters accept it): which children and attributes each element may have, which are required.
SHAPE = {
    "testsuites": ({"testsuite"}, set(), {"name", "tests", "failures", "errors", "skipped", "disabled", "time"}),
    "testsuite": ({"properties", "testcase", "system-out", "system-err"}, {"name", "tests"},
                  {"name", "tests", "failures", "errors", "skipped", "disabled", "time", "timestamp", "hostname",
                   "id", "package", "file", "log", "url", "version", "group"}),
    "properties": ({"property"}, set(), set()),
    "property": (set(), {"name", "value"}, {"name", "value"}),
    "testcase": ({"skipped", "error", "failure", "system-out", "system-err"}, {"name"},
                 {"name", "classname", "assertions", "time", "status", "file", "line", "group", "log", "url"}),
    "skipped": (set(), set(), {"message"}),
    "error": (set(), set(), {"message", "type"}),
    "failure": (set(), set(), {"message", "type"}),
    "system-out": (set(), set(), set()),
    "system-err": (set(), set(), set()),
}
COUNTERS = ("tests", "failures", "errors", "skipped")


def assert_junit_shape(element):
    """Fail unless ``element`` and its descendants follow SHAPE and the counters add up."""
    children, required, allowed = SHAPE[element.tag]
    assert required <= set(element.attrib), (element.tag, element.attrib)
    assert set(element.attrib) <= allowed, (element.tag, element.attrib)
    for child in element:
        assert child.tag in children, (element.tag, child.tag)
        assert_junit_shape(child)
    for name in ("time",):
        if name in element.attrib:
            assert float(element.get(name)) >= 0
    for name in COUNTERS:
        if name in element.attrib:
            assert int(element.get(name)) >= 0
    if element.tag == "testcase":
        outcomes = [child.tag for child in element if child.tag in ("skipped", "error", "failure")]
        assert len(outcomes) <= 1, outcomes
        assert [child.tag for child in element if child.tag in ("system-out", "system-err")].count("system-out") <= 1
    if element.tag == "testsuite":
        cases = element.findall("testcase")
        assert int(element.get("tests")) == len(cases)
        assert int(element.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(element.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
        assert int(element.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)
        assert len(element.findall("properties")) <= 1
    if element.tag == "testsuites":
        for name in COUNTERS:
            assert int(element.get(name)) == sum(int(s.get(name)) for s in element.findall("testsuite"))


def case(name, verdict, reason="", transcript=None, seconds=0.01):
    return {"name": name, "verdict": verdict, "reason": reason, "seconds": seconds,
            "transcript": transcript if transcript is not None else ["S: 220 mx.own.example ESMTP", "C: QUIT"]}


def report(target="127.0.0.1:25 (submission)", cases=None):
    return {"target": target, "foreign_domain": "example.net", "tls_verified": True,
            "summary": "%s: ..." % target, "cases": cases if cases is not None else [
                case("starttls-offered", "pass"),
                case("auth-relay", "fail", "accepted with password %s" % PASSWORD,
                     ["C: AUTH PLAIN %s" % PLAIN, "C: %s" % base64.b64encode(PASSWORD.encode()).decode(),
                      "S: 235 2.7.0 Authentication successful \x01\x1b"]),
                case("bang-path", "inconclusive", "421 try again later"),
                case("auth-sender-spoof", "skipped", "no other_sender"),
                case("percent-hack@own.example", "bounced", "bounced, no copy arrived"),
            ]}


def written(tmp_path, *suites):
    path = tmp_path / "audit.xml"
    for suite in suites:
        junit.write_report(str(path), suite)
    raw = path.read_bytes()
    return raw, ET.fromstring(raw)


def test_one_testcase_per_case_with_verdicts_mapped(tmp_path):
    raw, root = written(tmp_path, junit.build_testsuite(report(), secrets=junit.secret_forms(USERNAME, PASSWORD),
                                                        timestamp="2026-12-05T10:00:00", hostname="probe"))
    assert_junit_shape(root)
    suite = root.find("testsuite")
    assert suite.get("name") == "127.0.0.1:25 (submission)"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("5", "1", "1", "1")
    by_name = dict((c.get("name"), c) for c in suite.findall("testcase"))
    assert list(by_name) == ["starttls-offered", "auth-relay", "bang-path", "auth-sender-spoof", "percent-hack@own.example"]
    assert all(c.get("classname") == "relay_audit.submission" for c in by_name.values())
    failure = by_name["auth-relay"].find("failure")
    # The failure carries the SMTP transcript.
    assert "S: 235 2.7.0 Authentication successful" in failure.text
    assert by_name["bang-path"].find("error").get("message") == "421 try again later"
    assert by_name["auth-sender-spoof"].find("skipped").get("message") == "no other_sender"
    assert "bounced" in by_name["percent-hack@own.example"].find("system-out").text
    assert by_name["starttls-offered"].find("failure") is None


def test_secrets_are_masked_in_every_form(tmp_path):
    raw, root = written(tmp_path, junit.build_testsuite(report(), secrets=junit.secret_forms(USERNAME, PASSWORD)))
    text = raw.decode("utf-8")
    for secret in junit.secret_forms(USERNAME, PASSWORD):
        assert secret not in text
    assert text.count(junit.MASK) == 3
    # Characters XML 1.0 cannot carry are dropped, so the file always parses.
    assert "\x01" not in text and "\x1b" not in text


def test_allowed_inconclusive_cases_are_skipped_not_errors(tmp_path):
    raw, root = written(tmp_path, junit.build_testsuite(report(), allow_inconclusive=True))
    assert_junit_shape(root)
    suite = root.find("testsuite")
    assert (suite.get("errors"), suite.get("skipped")) == ("0", "2")
    skipped = [c.find("skipped").get("message") for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert "inconclusive (allowed): 421 try again later" in skipped


def test_an_audit_that_could_not_run_is_one_error(tmp_path):
    raw, root = written(tmp_path, junit.build_testsuite({"target": "192.0.2.9:25 (hub)"},
                                                        error="cannot connect to 192.0.2.9:25: refused"))
    assert_junit_shape(root)
    (testcase,) = root.iter("testcase")
    assert testcase.get("name") == "audit"
    assert "cannot connect" in testcase.find("error").get("message")


def test_audits_share_one_file_and_a_rerun_replaces_its_suite(tmp_path):
    first = junit.build_testsuite(report("127.0.0.1:25 (inbound_relay)", [case("a", "pass"), case("b", "fail", "x")]))
    second = junit.build_testsuite(report("127.0.0.2:25 (hub)", [case("c", "pass")]))
    rerun = junit.build_testsuite(report("127.0.0.1:25 (inbound_relay)", [case("a", "pass"), case("b", "pass")]))
    raw, root = written(tmp_path, first, second, rerun)
    assert_junit_shape(root)
    assert [s.get("name") for s in root.findall("testsuite")] == ["127.0.0.2:25 (hub)", "127.0.0.1:25 (inbound_relay)"]
    assert (root.get("tests"), root.get("failures")) == ("3", "0")


@pytest.mark.parametrize("content", [b"not xml", b"<html><body/></html>"])
def test_a_file_that_is_no_junit_report_is_refused(tmp_path, content):
    path = tmp_path / "audit.xml"
    path.write_bytes(content)
    with pytest.raises(junit.JUnitError):
        junit.write_report(str(path), junit.build_testsuite(report()))
    assert path.read_bytes() == content


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(junit.JUnitError):
        junit.write_report(str(tmp_path / "missing" / "audit.xml"), junit.build_testsuite(report()))
