#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: relay_audit
short_description: Prove from the outside that an SMTP server is not an open relay
version_added: 0.1.0
description:
  - Audits one SMTP server (Postfix, IIS SMTP, Exchange or any other) for the job it has in the topology
    and fails when any case fails.
  - C(inbound_relay) runs a battery of relay attempts with the address tricks of the classic open-relay
    testers (percent hack, bang paths, source routes, quoted local parts, C(user@foreign@own), IP literals,
    trailing dots, case games, look-alike domains, null and spoofed senders) and requires that mail for
    each own domain is accepted.
  - C(submission) checks that STARTTLS works, that AUTH is neither offered nor usable before STARTTLS,
    that a wrong password is refused, that unauthenticated relaying is refused in every form, that an
    authenticated user may relay and, with O(other_sender), that the user cannot send as someone else.
  - C(hub) runs the relay attempts from a host that is not an authorised relay (see O(source_address)).
  - Every case runs in its own SMTP session and returns a structured result (name, what was sent, the
    server's replies, verdict, reason). See C(docs/relay_audit.md) in the collection for every case.
  - Without a capture listener, a relay attempt accepted at RCPT counts as a failure. With O(capture),
    the module runs an SMTP listener for the duration of the audit, sends a tiny message for each
    accepted attempt, and judges by what arrives there; point the topology's upstream smart host at it.
  - Uses only the Python standard library; it normally runs on the controller or on a probe host
    (C(delegate_to)) outside the audited network.
author:
  - Mailrelay Maintainers (@mailrelay)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode nothing connects to the server; every planned case is returned with verdict
      C(skipped) and what it would send.
  diff_mode:
    support: none
    details: The module changes nothing on the audited server, so there is nothing to diff; it reports
      C(changed) only when it wrote O(junit_path).
  platform:
    platforms: posix
options:
  host:
    description: Address or name of the SMTP server to audit.
    type: str
    required: true
  port:
    description: TCP port of the SMTP service (25 for inbound relays and hubs, 587 for submission, 465 with O(tls=implicit)).
    type: int
    default: 25
  role:
    description: The server's job in the topology; it selects the cases.
    type: str
    required: true
    choices: [inbound_relay, submission, hub]
  own_domains:
    description:
      - The organisation's mail domains. An inbound relay must accept mail for each; the trick cases hide a
        foreign recipient inside addresses at each of them.
    type: list
    elements: str
    required: true
  own_recipient:
    description:
      - A recipient that exists in every own domain, given as a local part (combined with each domain) or as
        one full address in an own domain (used for that domain; C(postmaster) for the others).
      - Used by the must-accept cases and as the accepted first recipient of C(second-recipient-foreign).
    type: str
    default: postmaster
  foreign_domain:
    description:
      - Domain that stands for "somewhere else on the Internet" in every relay attempt. It must be neither
        one of O(own_domains) nor a subdomain of one (a server may relay for subdomains of its domains).
      - By default the first of C(example.net), C(example.com), C(example.org) (reserved by RFC 2606; they
        resolve) that is neither an own domain nor under one, then C(relay-audit.invalid),
        C(relay-audit.test), C(relay-audit.example). The domain used is returned as RV(foreign_domain).
      - Use a domain that resolves; a server that checks recipient domains in DNS refuses an unresolvable
        domain for the wrong reason, which the module reports as C(inconclusive).
      - Only the audited server receives the probes. Messages are sent only with O(capture), where the
        upstream smart host is the capture listener.
    type: str
  foreign_ip:
    description: IP address used for the C(ip-literal-recipient) case (RFC 5737 documentation address by default).
    type: str
    default: 192.0.2.1
  sender:
    description:
      - Envelope sender of the relay attempts.
      - Defaults to O(username) for O(role=submission) when it is an address, else to C(relay-audit@) O(foreign_domain).
    type: str
  other_sender:
    description:
      - For O(role=submission), an address the authenticated user must not be allowed to send as
        (case C(auth-sender-spoof)); the case is skipped without it.
    type: str
  username:
    description: SASL user name for the submission cases that authenticate.
    type: str
  password:
    description: Password of O(username). Never shown in transcripts (AUTH lines read C(<redacted>)).
    type: str
  tls:
    description:
      - C(auto) uses STARTTLS whenever the server offers it, C(starttls) requires it (a session without it
        is inconclusive), C(implicit) speaks TLS from the first byte (port 465), C(none) never uses TLS.
      - Submission cases that need TLS (C(starttls-offered), C(auth-*)) always use STARTTLS unless
        O(tls=implicit); C(auth-before-starttls) and C(unauth-relay-cleartext) never do.
    type: str
    choices: [auto, starttls, implicit, none]
    default: auto
  tls_verify:
    description:
      - Verify the server certificate (against O(ca_path) or the system store) and its name (O(tls_server_name)).
      - Defaults to C(true) for O(role=submission), where credentials are sent, and C(false) otherwise.
    type: bool
  ca_path:
    description: CA certificate file or directory used when O(tls_verify) is on.
    type: path
  tls_server_name:
    description: Name sent as SNI and checked against the certificate; defaults to O(host).
    type: str
  source_address:
    description:
      - Local address the probe connects from. Needed to audit a hub from a host that is not an authorised
        relay, and on a single lab machine, where a connection to a loopback address otherwise comes from
        that same address (which the server may trust).
    type: str
  helo_name:
    description: Name sent in EHLO. Defaults to C(relay-audit.) followed by O(foreign_domain).
    type: str
  server_name:
    description:
      - The server's own host name for the cases that route through it (C(percent-hack-server-name) and
        friends). Defaults to the name the server gives in its EHLO reply.
    type: str
  timeout:
    description: Seconds to wait for the connection and for each reply.
    type: float
    default: 10
  cases:
    description: Select cases by name; shell-style patterns such as C(percent-hack*) or C(*@own.example).
    type: dict
    suboptions:
      include:
        description: Run only cases matching one of these patterns (all when empty).
        type: list
        elements: str
        default: []
      exclude:
        description: Skip cases matching one of these patterns.
        type: list
        elements: str
        default: []
  capture:
    description:
      - Run a capture SMTP listener during the audit and judge accepted relay attempts by what reaches it.
      - Point the audited topology's upstream smart host (relayhost, IIS smart host, Exchange send connector)
        at O(capture.listen):O(capture.port). A case fails when a copy of its message arrives; a bounce
        (DSN) that arrives is reported as verdict C(bounced), not as a relay.
    type: dict
    suboptions:
      listen:
        description: Address the listener binds to, on the host that runs the module.
        type: str
        required: true
      port:
        description: TCP port of the listener.
        type: int
        default: 2525
      wait:
        description:
          - Seconds to wait after the last message for copies and bounces to arrive (at most 300). The wait
            ends early once every message sent has shown up.
        type: int
        default: 10
      expect_delivery:
        description:
          - For O(role=submission), require that the authenticated relay message (case C(auth-relay)) reaches
            the listener, proving the path submission -> hub -> upstream works. Turn off when the upstream
            smart host is not the listener.
        type: bool
        default: true
  junit_path:
    description:
      - Write the audit as a JUnit XML report to this file on the host that runs the module, for CI systems
        (GitLab, Jenkins, GitHub) to show like a test run. It holds one C(testsuite) named after the target,
        one C(testcase) per case; a failed case carries C(failure), an inconclusive one C(error), each with the
        SMTP transcript. Credentials never appear in it (AUTH lines are redacted and O(password) is masked).
      - An existing report is extended (a suite with the same name is replaced, other suites are kept), so
        several audits can share one file. An audit that cannot run is written as one C(error) testcase.
      - Not written in check mode.
    type: path
  auth_rate_limit:
    description:
      - The submission server's limit of AUTH commands per minute and client (Postfix
        C(smtpd_client_auth_rate_limit); the topology's C(submission.limits.auth_rate_limit)).
      - When set, the audit ends with that many AUTH commands with the right password
        (C(auth-rate-warm-up-N)) and one more with a wrong one, which must be refused with a temporary
        error (C(auth-over-rate)). This locks the address it connects from out of AUTH on that server for up
        to a minute, so it runs last, from O(auth_rate_source_address) when given.
      - A warm-up already refused with a 4xx (a series less than a minute earlier) shows the limit too; the
        over-rate attempt then passes even if anvil's rate window restarted in between. A C(454) (a temporary
        authentication failure, the server could not check) proves no limit and is inconclusive.
      - Only for O(role=submission) with O(username) and O(password), at most 100. Not set, the limit is not
        probed.
    type: int
  auth_rate_source_address:
    description:
      - The local address the brute-force series (O(auth_rate_limit)) connects from, instead of
        O(source_address). With an address of its own, the minute of AUTH lock-out it causes spoils no
        other case of this audit or of the next one.
      - Needs O(auth_rate_limit). On Linux any 127.0.0.0/8 address can be used without adding it.
    type: str
  allow_inconclusive:
    description:
      - By default an inconclusive case (temporary refusal, broken session, refusal for the wrong reason)
        fails the task like a failed one, because it proves nothing. Set to C(true) to report it only.
    type: bool
    default: false
notes:
  - The task fails when any case fails (or is inconclusive, see O(allow_inconclusive)); the failure message
    is a short summary and the full results are returned as data, so C(failed_when=false) plus the
    return values give a report without stopping the play.
  - Per case, a relay attempt passes when the server refuses it at MAIL, RCPT or DATA, or - with a capture
    listener - when it was accepted but no copy reached the listener within O(capture.wait) seconds.
  - The module never sends the real password in clear text. C(auth-before-starttls) uses decoy credentials.
seealso:
  - name: Relay audit cases and how to run them
    description: docs/relay_audit.md in the collection.
    link: https://example.invalid/mailrelay/smtp/docs
"""

EXAMPLES = r"""
- name: Audit the Internet-facing inbound relay from a probe host outside the network
  mailrelay.smtp.relay_audit:
    host: mx1.example.com
    role: inbound_relay
    own_domains: [example.com, example.org]
  delegate_to: probe.example.net

- name: Audit the submission server, including sender binding
  mailrelay.smtp.relay_audit:
    host: smtp.example.com
    port: 587
    role: submission
    own_domains: [example.com]
    username: alice@example.com
    password: "{{ vault_alice_password }}"
    other_sender: bob@example.com

- name: Audit the hub from an address that is not an authorised relay
  mailrelay.smtp.relay_audit:
    host: 10.0.0.2
    role: hub
    own_domains: [example.com]
    source_address: 10.0.9.9

- name: Lab audit with proof of non-delivery (the lab's upstream smart host is 127.0.1.250:2525)
  mailrelay.smtp.relay_audit:
    host: 127.0.1.10
    role: inbound_relay
    own_domains: [example.com]
    source_address: 127.0.1.2
    capture:
      listen: 127.0.1.250
      port: 2525
      wait: 10
  register: audit

- name: Report without failing, then decide
  mailrelay.smtp.relay_audit:
    host: 127.0.1.10
    role: inbound_relay
    own_domains: [example.com]
    cases:
      exclude: ["lookalike-*"]
  register: audit
  failed_when: false

- name: Audit and leave a JUnit report for the CI system
  mailrelay.smtp.relay_audit:
    host: mx1.example.com
    role: inbound_relay
    own_domains: [example.com]
    junit_path: "{{ playbook_dir }}/relay-audit.xml"

- name: Show the summary
  ansible.builtin.debug:
    msg: "{{ audit.summary }}"
"""

RETURN = r"""
passed:
  description:
    - C(false) when any case failed, or was inconclusive without O(allow_inconclusive); the task then fails.
    - Use it with C(failed_when=false) to decide later, as C(playbooks/audit.yml) does.
  returned: when not in check mode
  type: bool
  sample: true
target:
  description: The audited server and role.
  returned: always
  type: str
  sample: "127.0.1.10:25 (inbound_relay)"
junit_path:
  description: The JUnit XML report written (absent when none was asked for or in check mode).
  returned: when O(junit_path) is set and not in check mode
  type: str
  sample: /tmp/relay-audit.xml
foreign_domain:
  description: The foreign domain the relay attempts used (given or derived, see O(foreign_domain)).
  returned: always
  type: str
  sample: example.com
tls_verified:
  description: Whether TLS sessions verified the server certificate (O(tls_verify)).
  returned: always
  type: bool
summary:
  description: One line with the counts per verdict and the names of failed and inconclusive cases.
  returned: always
  type: str
  sample: >-
    127.0.1.10:25 (inbound_relay): 55 cases, 53 passed, 2 failed, 0 inconclusive, 0 bounced, 0 skipped;
    failed: percent-hack@example.com, bang-path@example.com
failed_cases:
  description: Names of the cases with verdict C(fail).
  returned: always
  type: list
  elements: str
  sample: ["percent-hack@example.com"]
inconclusive_cases:
  description: Names of the cases with verdict C(inconclusive).
  returned: always
  type: list
  elements: str
bounced_cases:
  description: Names of the relay attempts that were accepted and then bounced (not counted as relays).
  returned: always
  type: list
  elements: str
counts:
  description: Number of cases per verdict.
  returned: always
  type: dict
  sample: {"pass": 53, "fail": 2, "inconclusive": 0, "bounced": 0, "skipped": 0}
server:
  description: What the discovery session learnt (none in check mode).
  returned: when not in check mode
  type: dict
  contains:
    address:
      description: IP address connected to.
      type: str
    name:
      description: Host name from the EHLO reply, used by the C(*-server-name) cases.
      type: str
    greeting:
      description: Text of the 220 greeting.
      type: str
    extensions:
      description: ESMTP keywords of the first EHLO reply.
      type: list
      elements: str
    tls:
      description: Whether the discovery session was TLS (implicit TLS).
      type: bool
cases:
  description: One result per case, in the order run.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Case name; per-domain cases end in C(@domain).
      type: str
    description:
      description: What the case tries.
      type: str
    kind:
      description: >-
        What the server must do: C(relay_attempt), C(must_refuse), C(must_accept), C(must_deliver),
        C(starttls), C(auth_before_tls) or C(wrong_password).
      type: str
    source:
      description: Where the trick comes from (public relay-test list, RFC, Postfix rule).
      type: str
    token:
      description: Unique token carried by the case's recipient and message, used to attribute arrivals.
      type: str
    planned:
      description: The MAIL/RCPT commands (or steps) the case sends.
      type: list
      elements: str
    sent:
      description: Every command line actually sent, credentials redacted.
      type: list
      elements: str
    replies:
      description: Every reply received, as C(code) and C(text) (lines joined by newlines).
      type: list
      elements: dict
    transcript:
      description: The session as C(C:) and C(S:) lines.
      type: list
      elements: str
    verdict:
      description: C(pass), C(fail), C(bounced), C(inconclusive) or C(skipped).
      type: str
    reason:
      description: Why the verdict was given, quoting the deciding reply or arrival.
      type: str
    arrivals:
      description: Messages of this case seen by the capture listener (C(kind) relay or bounce, peer, envelope).
      type: list
      elements: dict
    seconds:
      description: How long the case's session took (not returned in check mode).
      type: float
capture:
  description: Capture listener statistics and arrivals that carry no case token.
  returned: when O(capture) is set and not in check mode
  type: dict
  contains:
    listen:
      description: Address and port listened on.
      type: str
    wait:
      description: Configured wait in seconds.
      type: int
    arrivals:
      description: Messages received in total.
      type: int
    relayed:
      description: Relayed copies attributed to cases.
      type: int
    bounces:
      description: Bounces attributed to cases.
      type: int
    refused_sessions:
      description:
        - Sessions the listener refused because 50 were already open. When this or RV(capture.cut_sessions)
          is not zero, a relay attempt that passed only because no copy arrived is C(inconclusive) instead.
      type: int
    cut_sessions:
      description: Sessions the listener ended at its bounds (1000 commands or 120 seconds per session).
      type: int
    unattributed:
      description: Messages that carry no token of this audit (for example late retries of an earlier run).
      type: list
      elements: dict
"""

import datetime
import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailrelay.smtp.plugins.module_utils._relay_audit import (
    TLS_MODES,
    AuditError,
    AuditSettings,
    CaptureSettings,
    plan_only,
    run_audit,
    unknown_case_patterns,
    validate,
)
from ansible_collections.mailrelay.smtp.plugins.module_utils._relay_cases import ROLES
from ansible_collections.mailrelay.smtp.plugins.module_utils._relay_junit import (
    JUnitError,
    build_testsuite,
    secret_forms,
    write_report,
)

MAX_REASONS_IN_MESSAGE = 5


def argument_spec():
    return dict(
        host=dict(type="str", required=True),
        port=dict(type="int", default=25),
        role=dict(type="str", required=True, choices=list(ROLES)),
        own_domains=dict(type="list", elements="str", required=True),
        own_recipient=dict(type="str", default="postmaster"),
        foreign_domain=dict(type="str"),
        foreign_ip=dict(type="str", default="192.0.2.1"),
        sender=dict(type="str"),
        other_sender=dict(type="str"),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        tls=dict(type="str", default="auto", choices=list(TLS_MODES)),
        tls_verify=dict(type="bool"),
        ca_path=dict(type="path"),
        tls_server_name=dict(type="str"),
        source_address=dict(type="str"),
        helo_name=dict(type="str"),
        server_name=dict(type="str"),
        timeout=dict(type="float", default=10),
        cases=dict(type="dict", options=dict(
            include=dict(type="list", elements="str", default=[]),
            exclude=dict(type="list", elements="str", default=[]),
        )),
        capture=dict(type="dict", options=dict(
            listen=dict(type="str", required=True),
            port=dict(type="int", default=2525),
            wait=dict(type="int", default=10),
            expect_delivery=dict(type="bool", default=True),
        )),
        allow_inconclusive=dict(type="bool", default=False),
        auth_rate_limit=dict(type="int"),
        auth_rate_source_address=dict(type="str"),
        junit_path=dict(type="path"),
    )


def settings_from(params):
    cases = params["cases"] or {}
    capture = None
    if params["capture"]:
        capture = CaptureSettings(
            listen=params["capture"]["listen"], port=params["capture"]["port"],
            wait=params["capture"]["wait"], expect_delivery=params["capture"]["expect_delivery"])
    return AuditSettings(
        host=params["host"], port=params["port"], role=params["role"], own_domains=params["own_domains"],
        own_recipient=params["own_recipient"], foreign_domain=params["foreign_domain"],
        foreign_ip=params["foreign_ip"], sender=params["sender"], other_sender=params["other_sender"],
        username=params["username"], password=params["password"], tls=params["tls"],
        tls_verify=params["tls_verify"], ca_path=params["ca_path"], tls_server_name=params["tls_server_name"],
        source_address=params["source_address"], helo_name=params["helo_name"],
        server_name=params["server_name"], timeout=params["timeout"],
        include=cases.get("include"), exclude=cases.get("exclude"), capture=capture,
        allow_inconclusive=params["allow_inconclusive"], auth_rate_limit=params["auth_rate_limit"],
        auth_rate_source_address=params["auth_rate_source_address"])


def failure_message(report):
    """The summary plus the first few reasons, short enough to read in a play's output."""
    lines = [report["summary"]]
    bad = [c for c in report["cases"] if c["name"] in report["failed_cases"] + report["inconclusive_cases"]]
    for case in bad[:MAX_REASONS_IN_MESSAGE]:
        lines.append("- %s (%s): %s" % (case["name"], case["verdict"], case["reason"]))
    if len(bad) > MAX_REASONS_IN_MESSAGE:
        lines.append("- ... %d more, see the 'cases' result" % (len(bad) - MAX_REASONS_IN_MESSAGE))
    return "\n".join(lines)


def write_junit(module, settings, report, error=None):
    """Write the JUnit report when asked; returns the path written or None."""
    path = module.params["junit_path"]
    if not path:
        return None
    suite = build_testsuite(report, secrets=secret_forms(settings.username, settings.password),
                            allow_inconclusive=settings.allow_inconclusive,
                            timestamp=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                            hostname=platform.node(), error=error)
    try:
        write_report(path, suite)
    except (JUnitError, OSError) as exc:
        module.fail_json(msg="junit_path: cannot write %s: %s" % (path, exc))
    return path


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    settings = settings_from(module.params)

    errors = validate(settings)
    unknown = [] if errors else unknown_case_patterns(settings)
    if unknown:
        errors.append("cases: no %s case matches %s" % (settings.role, ", ".join(repr(p) for p in unknown)))
    if errors:
        module.fail_json(msg="; ".join(errors))

    if module.check_mode:
        report = plan_only(settings)
        for key in ("check_mode", "ok", "server", "capture"):
            report.pop(key, None)
        module.exit_json(changed=False, **report)

    try:
        report = run_audit(settings)
    except AuditError as exc:
        message = "relay_audit of %s could not run: %s" % (settings.target, exc)
        written = write_junit(module, settings, {"target": settings.target}, error=message)
        module.fail_json(msg=message, changed=written is not None, **({"junit_path": written} if written else {}))

    report.pop("check_mode", None)
    report["passed"] = report.pop("ok")
    written = write_junit(module, settings, report)
    if written:
        report["junit_path"] = written
    if not report["passed"]:
        module.fail_json(msg=failure_message(report), changed=written is not None, **report)
    module.exit_json(changed=written is not None, **report)


if __name__ == "__main__":
    main()
