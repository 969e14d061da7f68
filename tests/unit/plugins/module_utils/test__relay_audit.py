# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit runner against small in-process SMTP servers.

The stand-in servers are CaptureListener instances with an RCPT policy: a
closed one accepts only the own-domain recipient, an open one accepts all.
The real-Postfix proof lives in the relay_audit integration target.
"""
from __future__ import annotations

import smtplib
import socket
import threading
import time

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _relay_audit as audit
from ansible_collections.mailrelay.smtp.plugins.module_utils import _relay_cases as rc
from ansible_collections.mailrelay.smtp.plugins.module_utils import _smtp_capture as capture_module
from ansible_collections.mailrelay.smtp.tests.unit.plugins.module_utils._relay_stand_in import (
    closed_policy,
    free_port,
    open_policy,
    start_stand_in,
)


@pytest.fixture
def servers():
    started = []

    def start(policy):
        server = start_stand_in(policy)
        started.append(server)
        return server
    yield start
    for server in started:
        server.stop()


def settings_for(server, **kwargs):
    values = dict(host="127.0.0.1", port=server.address[1], role="inbound_relay", own_domains=["own.example"],
                  timeout=5)
    values.update(kwargs)
    return audit.AuditSettings(**values)


def verdicts(report):
    return dict((case["name"], case["verdict"]) for case in report["cases"])


def test_closed_server_passes_every_case(servers):
    server = servers(closed_policy)
    report = audit.run_audit(settings_for(server), run_id="aaaaaa")
    assert report["ok"] is True
    assert report["failed_cases"] == [] and report["inconclusive_cases"] == []
    assert set(verdicts(report).values()) == {rc.PASS}
    assert report["server"]["name"] == "mx.own.example"
    assert report["server"]["address"] == "127.0.0.1"
    first = report["cases"][0]
    assert first["name"] == "own-domain-accepted@own.example"
    assert first["sent"] == ["EHLO relay-audit.example.net", "MAIL FROM:<relay-audit@example.net>",
                             "RCPT TO:<postmaster@own.example>", "RSET", "QUIT"]
    assert [r["code"] for r in first["replies"]] == [220, 250, 250, 250, 250, 221]
    # The server name and address from discovery are used by the tricks.
    planned = dict((case["name"], case["planned"]) for case in report["cases"])
    assert planned["percent-hack-server-name"][1].endswith("%example.net@mx.own.example>")
    assert planned["percent-hack-server-ip"][1].endswith("%example.net@[127.0.0.1]>")
    # No message was sent to the closed server.
    assert server.arrivals() == []


def test_open_server_without_capture_fails_every_relay_attempt(servers):
    server = servers(open_policy)
    report = audit.run_audit(settings_for(server), run_id="bbbbbb")
    assert report["ok"] is False
    found = verdicts(report)
    assert found.pop("own-domain-accepted@own.example") == rc.PASS
    assert found.pop("postmaster-unqualified") == rc.PASS
    assert set(found.values()) == {rc.FAIL}
    assert "percent-hack@own.example" in report["failed_cases"]
    assert "no capture listener" in report["cases"][1]["reason"]
    assert server.arrivals() == []  # without a capture nothing is sent after RCPT
    assert report["summary"].startswith("127.0.0.1:%d (inbound_relay): 45 cases, 2 passed, 43 failed" % server.address[1])


def test_accepted_but_never_delivered_passes_with_a_capture(servers):
    server = servers(open_policy)  # accepts, but forwards nothing
    port = free_port()
    capture = audit.CaptureSettings("127.0.0.1", port, wait=1)
    report = audit.run_audit(settings_for(server, capture=capture, include=["foreign-recipient", "bang-path"]),
                             run_id="cccccc")
    assert report["ok"] is True
    assert verdicts(report) == {"foreign-recipient": rc.PASS, "bang-path": rc.PASS}
    assert "no copy reached the capture listener within 1s" in report["cases"][0]["reason"]
    assert "DATA" in report["cases"][0]["sent"]
    assert len(server.arrivals()) == 2  # the probe messages themselves
    assert report["capture"]["listen"] == "127.0.0.1:%d" % port
    assert report["capture"]["arrivals"] == 0


class Forwarder(object):
    """Passes every message the stand-in relay accepts on to the capture listener, like an open relay."""

    def __init__(self, relay, capture_port, bounce_for=None):
        self.relay = relay
        self.capture_port = capture_port
        self.bounce_for = bounce_for or (lambda rcpt: False)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.daemon = True
        self.thread.start()

    def run(self):
        done = 0
        deadline = time.monotonic() + 30
        while not self.stop.is_set() and time.monotonic() < deadline:
            arrivals = self.relay.arrivals()
            for arrival in arrivals[done:]:
                self.forward(arrival)
            done = len(arrivals)
            time.sleep(0.05)

    def forward(self, arrival):
        for _attempt in range(50):
            try:
                with smtplib.SMTP("127.0.0.1", self.capture_port, timeout=5) as client:
                    if any(self.bounce_for(r) for r in arrival.rcpt_to):
                        report = (b"Subject: Undelivered Mail\r\nMIME-Version: 1.0\r\n"
                                  b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
                                  b"--b\r\n\r\nfailed\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
                                  + arrival.data + b"\r\n--b--\r\n")
                        client.sendmail("", [arrival.mail_from or "postmaster@example.net"], report)
                    else:
                        client.sendmail(arrival.mail_from, arrival.rcpt_to, arrival.data)
                return
            except OSError:
                time.sleep(0.1)

    def close(self):
        self.stop.set()
        self.thread.join(5)


def test_capture_attributes_relays_and_bounces_to_their_cases(servers):
    relay = servers(open_policy)
    port = free_port()
    forwarder = Forwarder(relay, port, bounce_for=lambda rcpt: "!" in rcpt)
    try:
        capture = audit.CaptureSettings("127.0.0.1", port, wait=10)
        started = time.monotonic()
        report = audit.run_audit(settings_for(relay, capture=capture,
                                              include=["foreign-recipient", "bang-path", "null-sender",
                                                       "own-domain-accepted@*"]),
                                 run_id="dddddd")
        elapsed = time.monotonic() - started
    finally:
        forwarder.close()
    found = verdicts(report)
    assert found == {"own-domain-accepted@own.example": rc.PASS, "foreign-recipient": rc.FAIL,
                     "null-sender": rc.FAIL, "bang-path": rc.BOUNCED}
    assert report["failed_cases"] == ["foreign-recipient", "null-sender"]
    assert report["bounced_cases"] == ["bang-path"]
    cases = dict((case["name"], case) for case in report["cases"])
    assert cases["foreign-recipient"]["arrivals"][0]["kind"] == "relay"
    assert cases["foreign-recipient"]["arrivals"][0]["rcpt_to"] == [cases["foreign-recipient"]["token"] + "@example.net"]
    assert cases["bang-path"]["arrivals"][0]["kind"] == "bounce"
    assert report["capture"]["relayed"] == 2 and report["capture"]["bounces"] == 1
    # Every message showed up, so the wait ended early.
    assert elapsed < 8


def test_unattributed_arrivals_are_reported_not_judged(servers):
    server = servers(open_policy)  # accepts and forwards nothing: the audit waits the full second
    port = free_port()

    def stray():
        # A late retry from an earlier run: another run's token, so no case of this run may claim it.
        for _attempt in range(100):
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                    client.sendmail("old@example.net", ["relayaudit-ffffff-001@example.net"], b"\r\nold run\r\n")
                return
            except OSError:
                time.sleep(0.02)
    thread = threading.Thread(target=stray)
    thread.start()
    capture = audit.CaptureSettings("127.0.0.1", port, wait=1)
    report = audit.run_audit(settings_for(server, capture=capture, include=["foreign-recipient"]), run_id="eeeeee")
    thread.join(5)
    assert verdicts(report) == {"foreign-recipient": rc.PASS}
    assert report["capture"]["arrivals"] == 1
    assert [a["rcpt_to"] for a in report["capture"]["unattributed"]] == [["relayaudit-ffffff-001@example.net"]]
    assert report["cases"][0]["arrivals"] == []


def test_source_address_reaches_the_server(servers):
    server = servers(open_policy)
    capture = audit.CaptureSettings("127.0.0.1", free_port(), wait=0)
    audit.run_audit(settings_for(server, source_address="127.0.0.3", include=["foreign-recipient"], capture=capture),
                    run_id="ffffff")
    assert [a.peer for a in server.arrivals()] == ["127.0.0.3"]


def test_unreachable_server_is_an_audit_error():
    settings = audit.AuditSettings(host="127.0.0.1", port=free_port(), role="hub", own_domains=["own.example"],
                                   timeout=2)
    with pytest.raises(audit.AuditError, match="cannot connect"):
        audit.run_audit(settings)


def test_busy_capture_port_is_an_audit_error(servers):
    server = servers(closed_policy)
    settings = settings_for(server, capture=audit.CaptureSettings("127.0.0.1", server.address[1]))
    with pytest.raises(audit.AuditError, match="capture: cannot listen"):
        audit.run_audit(settings)


def test_plan_only_connects_to_nothing():
    settings = audit.AuditSettings(host="127.0.0.1", port=free_port(), role="submission",
                                   own_domains=["own.example"], username="alice@own.example", password="x")
    report = audit.plan_only(settings, run_id="000001")
    assert report["check_mode"] is True
    assert set(verdicts(report).values()) == {rc.SKIPPED}
    assert all(case["sent"] == [] for case in report["cases"])
    assert report["cases"][0]["name"] == "starttls-offered"
    assert report["ok"] is True


@pytest.mark.parametrize("changes, message", [
    (dict(role="smarthost"), "role must be one of"),
    (dict(own_domains=[]), "own_domains must list"),
    (dict(own_domains=["a@b"]), "own_domains must list"),
    (dict(foreign_domain="own.example"), "must be neither an own domain nor a subdomain of one"),
    (dict(foreign_domain="mx.Own.Example."), "must be neither an own domain nor a subdomain of one"),
    (dict(own_recipient="info@elsewhere.example"), "own_recipient"),
    (dict(port=0), "port must be"),
    (dict(tls="sometimes"), "tls must be one of"),
    (dict(timeout=0), "timeout must be"),
    (dict(source_address="not-an-ip"), "source_address must be an IP"),
    (dict(foreign_ip="999.1.1.1"), "foreign_ip must be an IP"),
    (dict(password="x"), "password is set but username is not"),
    (dict(username="alice"), "username is set but password is not"),
    (dict(ca_path="/nonexistent/ca.pem"), "ca_path"),
    (dict(capture=audit.CaptureSettings("127.0.0.1", 2525, wait=301)), "capture.wait"),
    (dict(capture=audit.CaptureSettings("", 2525)), "capture.listen"),
    (dict(auth_rate_source_address="127.0.3.9"), "auth_rate_source_address is set but auth_rate_limit is not"),
    (dict(role="submission", auth_rate_limit=5, auth_rate_source_address="x"), "auth_rate_source_address must be an IP"),
])
def test_validate_names_the_offending_option(changes, message):
    values = dict(host="mx.own.example", role="inbound_relay", own_domains=["own.example"])
    values.update(changes)
    errors = audit.validate(audit.AuditSettings(**values))
    assert any(message in error for error in errors), errors


def test_validate_accepts_sane_settings():
    settings = audit.AuditSettings(host="mx.own.example", role="hub", own_domains=["Own.Example."],
                                   source_address="127.0.3.2")
    assert audit.validate(settings) == []
    assert settings.own_domains == ["own.example"]
    assert settings.tls_verify is False
    assert audit.AuditSettings(host="x", role="submission", own_domains=["a.example"]).tls_verify is True


def test_unknown_case_patterns():
    settings = audit.AuditSettings(host="x", role="hub", own_domains=["own.example"],
                                   include=["percent-hack@*", "auth-relay"], exclude=["bogus"])
    assert audit.unknown_case_patterns(settings) == ["auth-relay", "bogus"]


# --- the foreign domain -------------------------------------------------------

@pytest.mark.parametrize("own_domains, expected", [
    (["example.org"], "example.net"),
    (["example.net"], "example.com"),
    # A subdomain of an own domain may be relayed legitimately: never a foreign domain.
    (["a.example.net"], "example.net"),
    (["outside.example.net", "example.com"], "example.net"),
    (["example.net", "a.example.net", "outside.example.net"], "example.com"),
    (["Example.NET.", "example.com"], "example.org"),
    # Internationalised own domains compare by their A-labels.
    (["bücher.example.net"], "example.net"),
    (["xn--bcher-kva.example", "example.net"], "example.com"),
    # A one-label own domain covers every name under it.
    (["net"], "example.com"),
    (["net", "com"], "example.org"),
    (["net", "com", "org"], "relay-audit.invalid"),
    (["net", "com", "org", "invalid", "test"], "relay-audit.example"),
])
def test_derived_foreign_domain_is_never_own_nor_under_an_own_domain(own_domains, expected):
    settings = audit.AuditSettings(host="x", role="inbound_relay", own_domains=own_domains)
    assert settings.foreign_domain == expected
    assert audit.validate(settings) == []
    assert all(not audit.is_within(expected, own) for own in own_domains)


def test_no_free_foreign_domain_is_refused_naming_the_option():
    settings = audit.AuditSettings(host="x", role="inbound_relay",
                                   own_domains=["net", "com", "org", "invalid", "test", "example"])
    assert settings.foreign_domain is None
    assert any(error.startswith("foreign_domain: every default") for error in audit.validate(settings))


@pytest.mark.parametrize("foreign, own_domains", [
    ("example.net", ["example.net"]),
    ("a.example.net", ["example.net"]),
    ("outside.example.net", ["example.net", "a.example.net"]),
    ("x.bücher.example", ["xn--bcher-kva.example"]),
    ("x.xn--bcher-kva.example", ["bücher.example"]),
    ("host.lan", ["lan"]),
])
def test_given_foreign_domain_inside_the_own_domains_is_refused(foreign, own_domains):
    errors = audit.validate(audit.AuditSettings(host="x", role="hub", own_domains=own_domains, foreign_domain=foreign))
    assert any("must be neither an own domain nor a subdomain of one" in error for error in errors), errors


@pytest.mark.parametrize("foreign, own_domains", [
    ("example.net", ["a.example.net"]),        # the parent of an own domain is somewhere else
    ("notexample.net", ["example.net"]),       # a mere suffix is not a subdomain
    ("bücher.example", ["buecher.example"]),
])
def test_given_foreign_domain_outside_the_own_domains_is_accepted(foreign, own_domains):
    assert audit.validate(audit.AuditSettings(host="x", role="hub", own_domains=own_domains,
                                              foreign_domain=foreign)) == []


def test_a_flooded_capture_listener_neither_stalls_the_audit_nor_hides_a_relay(servers):
    port = free_port()
    flooded = threading.Event()
    flood_sessions = []

    def flood():
        # Once the audit's listener is up: more sessions than it admits, each spamming commands.
        for _attempt in range(500):
            try:
                flood_sessions.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                break
            except OSError:
                time.sleep(0.02)
        for _extra in range(capture_module.CaptureListener("x", 0).max_sessions + 9):
            try:
                flood_sessions.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                pass
        for sock in flood_sessions:
            try:
                sock.sendall(b"NOOP\r\n" * 50)
            except OSError:
                pass
        flooded.set()

    def accept_once_flooded(rcpt):
        # The open relay accepts the attempt only once the flood holds the listener.
        flooded.wait(20)
        return "250 2.1.5 Ok"
    relay = servers(accept_once_flooded)
    forwarder = Forwarder(relay, port)
    flooder = threading.Thread(target=flood)
    flooder.daemon = True
    result = {}

    def audit_run():
        capture = audit.CaptureSettings("127.0.0.1", port, wait=2)
        result["report"] = audit.run_audit(settings_for(relay, capture=capture, include=["foreign-recipient"]),
                                           run_id="ffffff")
    runner = threading.Thread(target=audit_run)
    try:
        flooder.start()
        runner.start()
        runner.join(60)
        assert not runner.is_alive(), "the flooded audit did not finish"
    finally:
        forwarder.close()
        flooder.join(5)
    report = result["report"]
    assert report["capture"]["refused_sessions"] >= 5
    # The relay accepted the attempt and no copy could arrive: that proves nothing, it is no pass.
    case = report["cases"][0]
    assert case["verdict"] == rc.INCONCLUSIVE, case["reason"]
    assert "refused" in case["reason"] and report["ok"] is False
    # The listener is gone and ended every flood session it had admitted.
    for sock in flood_sessions:
        sock.settimeout(5)
        while True:
            try:
                if not sock.recv(65536):
                    break
            except OSError:
                break
        sock.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


class _RecordingProbe(object):
    """Stands in for _Probe: records the address each session would come from, then fails to connect."""

    def __init__(self):
        self.sources = []

    def open(self, source_address=None):
        self.sources.append(source_address)
        raise audit.SmtpProbeError("not connected")


def test_the_brute_force_series_connects_from_its_own_address():
    settings = audit.AuditSettings(host="127.0.0.1", role="submission", own_domains=["own.example"],
                                   username="alice@own.example", password="pw", sender="alice@own.example",
                                   source_address="127.0.0.2", auth_rate_limit=2,
                                   auth_rate_source_address="127.0.0.3")
    cases = audit.plan_cases(settings, "abc123")
    probe = _RecordingProbe()
    for case in cases:
        audit.execute_case(case, settings, probe, send_data=False)
    # None: the probe's own source_address; the series (last) from auth_rate_source_address.
    series = [case.name for case in cases if case.expect_rate_limit]
    assert series == ["auth-rate-warm-up-1", "auth-rate-warm-up-2", "auth-over-rate"]
    assert probe.sources == [None] * (len(cases) - 3) + ["127.0.0.3"] * 3
