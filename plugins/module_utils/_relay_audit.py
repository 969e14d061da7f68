# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs a relay audit: one SMTP session per case, then the verdicts.

``run_audit(settings)`` connects once to learn the server's name and
extensions, runs every selected case of ``_relay_cases`` in its own
session (so that a server's error counters and tarpits never mix cases),
optionally proves non-delivery through a ``_smtp_capture`` listener, and
returns plain data for the module to report.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import binascii
import ipaddress
import os
import time

from ansible_collections.mailrelay.smtp.plugins.module_utils import _relay_cases as rc
from ansible_collections.mailrelay.smtp.plugins.module_utils._smtp_capture import (
    RELAY,
    CaptureError,
    CaptureListener,
    attribute,
)
from ansible_collections.mailrelay.smtp.plugins.module_utils._smtp_probe import (
    SmtpProbeError,
    SmtpSession,
    auth_mechanisms,
    ehlo_server_name,
    make_tls_context,
)

TLS_MODES = ("auto", "starttls", "implicit", "none")
MAX_CAPTURE_WAIT = 300
# Tried in order when no foreign_domain is given: the RFC 2606 names resolve (a server that checks
# recipient domains in DNS refuses them for the right reason); the reserved TLDs only when every one
# of those is an own domain or lies under one.
FOREIGN_DOMAIN_CANDIDATES = ("example.net", "example.com", "example.org",
                             "relay-audit.invalid", "relay-audit.test", "relay-audit.example")


def domain_key(domain):
    """A domain in comparable form: lower case, no trailing dot, internationalised labels as A-labels."""
    text = domain.strip().rstrip(".").lower()
    try:
        return text.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return text


def is_within(domain, parent):
    """``domain`` is ``parent`` or one of its subdomains (compared as ``domain_key``)."""
    domain, parent = domain_key(domain), domain_key(parent)
    return domain == parent or domain.endswith("." + parent)


def own_domain_covering(domain, own_domains):
    """The first own domain that ``domain`` equals or lies under, else None."""
    for own in own_domains:
        if own and is_within(domain, own):
            return own
    return None


def derive_foreign_domain(own_domains):
    """A domain that is neither an own domain nor under one (a server may relay for subdomains of
    its domains, e.g. Postfix parent_domain_matches_subdomains); None when every candidate is taken."""
    for candidate in FOREIGN_DOMAIN_CANDIDATES:
        if own_domain_covering(candidate, own_domains) is None:
            return candidate
    return None


class AuditError(Exception):
    """The audit could not run at all (server unreachable, capture not bindable...)."""


class CaptureSettings(object):
    def __init__(self, listen, port, wait=10, expect_delivery=True, hostname="relay-audit-capture.invalid"):
        self.listen = listen
        self.port = port
        self.wait = wait
        self.expect_delivery = expect_delivery
        self.hostname = hostname


class AuditSettings(object):
    """Everything one audit needs; field names follow the module options."""

    def __init__(self, host, role, own_domains, port=25, own_recipient="postmaster", foreign_domain=None,
                 foreign_ip="192.0.2.1", sender=None, other_sender=None, username=None, password=None,
                 tls="auto", tls_verify=None, ca_path=None, tls_server_name=None, source_address=None,
                 helo_name=None, server_name=None, timeout=10.0, include=None, exclude=None, capture=None,
                 allow_inconclusive=False, auth_rate_limit=None, auth_rate_source_address=None):
        self.host = host
        self.port = port
        self.role = role
        self.own_domains = [d.lower().rstrip(".") for d in own_domains]
        self.own_recipient = own_recipient
        # Given, or derived from the own domains (None when no candidate is free: validate() says so).
        self.foreign_domain_derived = not foreign_domain
        if foreign_domain:
            self.foreign_domain = foreign_domain.lower().rstrip(".")
        else:
            self.foreign_domain = derive_foreign_domain(self.own_domains)
        self.foreign_ip = foreign_ip
        self.sender = sender
        self.other_sender = other_sender
        self.username = username
        self.password = password
        self.tls = tls
        # Verify certificates by default only where credentials are sent.
        self.tls_verify = (role == "submission") if tls_verify is None else tls_verify
        self.ca_path = ca_path
        self.tls_server_name = tls_server_name
        self.source_address = source_address
        self.helo_name = helo_name or "relay-audit.%s" % (self.foreign_domain or "invalid")
        self.server_name = server_name
        self.timeout = timeout
        self.include = list(include or [])
        self.exclude = list(exclude or [])
        self.capture = capture
        self.allow_inconclusive = allow_inconclusive
        # The server's AUTH commands per minute and client: when known, the audit proves the limit holds.
        self.auth_rate_limit = auth_rate_limit
        # The brute-force series locks its client address out of AUTH for up to a minute: from an
        # address of its own, that lock-out meets no other case and no later audit from source_address.
        self.auth_rate_source_address = auth_rate_source_address

    @property
    def target(self):
        return "%s:%s (%s)" % (self.host, self.port, self.role)


def validate(settings):
    """Messages naming the offending option, one per problem (empty when fine)."""
    errors = []
    if settings.role not in rc.ROLES:
        errors.append("role must be one of %s, got %r" % (", ".join(rc.ROLES), settings.role))
    if not settings.own_domains or any(not d or "@" in d or " " in d for d in settings.own_domains):
        errors.append("own_domains must list at least one domain name (no '@', no spaces)")
    if settings.foreign_domain is None:
        errors.append("foreign_domain: every default (%s) is an own domain or lies under one; set foreign_domain"
                      % ", ".join(FOREIGN_DOMAIN_CANDIDATES))
    elif not settings.foreign_domain or "@" in settings.foreign_domain or " " in settings.foreign_domain:
        errors.append("foreign_domain must be a domain name, got %r" % settings.foreign_domain)
    else:
        covering = own_domain_covering(settings.foreign_domain, settings.own_domains)
        if covering is not None:
            errors.append("foreign_domain %r must be neither an own domain nor a subdomain of one (%s is in own_domains)"
                          % (settings.foreign_domain, covering))
    if "@" in settings.own_recipient:
        domain = settings.own_recipient.rpartition("@")[2].lower().rstrip(".")
        if domain not in settings.own_domains:
            errors.append("own_recipient %r is an address outside own_domains" % settings.own_recipient)
    if not 0 < settings.port < 65536:
        errors.append("port must be between 1 and 65535")
    if settings.tls not in TLS_MODES:
        errors.append("tls must be one of %s" % ", ".join(TLS_MODES))
    if settings.timeout <= 0 or settings.timeout > 300:
        errors.append("timeout must be between 0 and 300 seconds")
    if settings.auth_rate_limit is not None:
        if settings.role != "submission":
            errors.append("auth_rate_limit is only for role submission")
        elif not 0 < settings.auth_rate_limit <= 100:
            errors.append("auth_rate_limit must be between 1 and 100 (AUTH commands per minute)")
    if settings.auth_rate_source_address and settings.auth_rate_limit is None:
        errors.append("auth_rate_source_address is set but auth_rate_limit is not")
    for name in ("foreign_ip", "source_address", "auth_rate_source_address"):
        value = getattr(settings, name)
        if value:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                errors.append("%s must be an IP address, got %r" % (name, value))
    if settings.password and not settings.username:
        errors.append("password is set but username is not")
    if settings.username and not settings.password:
        errors.append("username is set but password is not")
    if settings.ca_path and not os.path.exists(settings.ca_path):
        errors.append("ca_path %s does not exist" % settings.ca_path)
    if settings.capture is not None:
        if not settings.capture.listen:
            errors.append("capture.listen must be an address to listen on")
        if not 0 <= settings.capture.port < 65536:
            errors.append("capture.port must be between 0 and 65535")
        if not 0 <= settings.capture.wait <= MAX_CAPTURE_WAIT:
            errors.append("capture.wait must be between 0 and %d seconds" % MAX_CAPTURE_WAIT)
    return errors


def new_run_id():
    return binascii.hexlify(os.urandom(3)).decode("ascii")


def _context(settings, server_name, server_ip):
    return rc.CaseContext(
        role=settings.role, own_domains=settings.own_domains, foreign_domain=settings.foreign_domain,
        own_recipient=settings.own_recipient, sender=settings.sender, server_name=server_name,
        server_ip=server_ip, foreign_ip=settings.foreign_ip, username=settings.username,
        other_sender=settings.other_sender, tls=settings.tls, auth_rate_limit=settings.auth_rate_limit)


def plan_cases(settings, run_id, server_name=None, server_ip=None):
    """The selected cases; server name/IP fall back to the options when not yet discovered."""
    name = server_name or settings.server_name or settings.host
    if server_ip is None:
        try:
            server_ip = str(ipaddress.ip_address(settings.host))
        except ValueError:
            server_ip = "server-ip"
    cases = rc.build_cases(_context(settings, name, server_ip), run_id)
    return rc.select_cases(cases, settings.include, settings.exclude)


def unknown_case_patterns(settings):
    """include/exclude patterns that match no case of the role (typos)."""
    every = rc.build_cases(_context(settings, settings.host, "192.0.2.254"), "000000")
    return rc.unmatched_patterns(every, settings.include + settings.exclude)


def _random_secret(prefix):
    return "%s-%s" % (prefix, binascii.hexlify(os.urandom(8)).decode("ascii"))


def _pick_mechanism(extensions):
    offered = auth_mechanisms(extensions)
    for mechanism in ("PLAIN", "LOGIN"):
        if mechanism in offered:
            return mechanism
    return "PLAIN"


class _Probe(object):
    """Opens sessions to the audited server the way the settings say."""

    def __init__(self, settings):
        self.settings = settings
        self.tls_context = None
        if settings.tls != "none":
            self.tls_context = make_tls_context(settings.tls_verify, settings.ca_path)

    def open(self, source_address=None):
        s = self.settings
        session = SmtpSession(s.host, s.port, timeout=s.timeout, source_address=source_address or s.source_address)
        context = self.tls_context if s.tls == "implicit" else None
        greeting = session.connect(context, s.tls_server_name)
        return session, greeting


def discover(settings):
    """One harmless session (greeting, EHLO, QUIT) to learn the server's name and address."""
    probe = _Probe(settings)
    try:
        session, greeting = probe.open()
    except SmtpProbeError as exc:
        raise AuditError(str(exc))
    try:
        if greeting.code != 220:
            raise AuditError("%s:%s greets with %d %s" % (settings.host, settings.port, greeting.code, greeting.text))
        ehlo = session.ehlo(settings.helo_name)
        return {
            "address": session.peer_address,
            "name": ehlo_server_name(ehlo) or ehlo_server_name(greeting) or settings.host,
            "greeting": greeting.text,
            "extensions": sorted(session.extensions),
            "tls": session.tls_active,
        }
    except SmtpProbeError as exc:
        raise AuditError(str(exc))
    finally:
        session.quit()


def _wants_starttls(case, settings, offered):
    if settings.tls in ("none", "implicit") or case.phase == rc.PHASE_CLEARTEXT:
        return False
    if case.phase in (rc.PHASE_TLS, rc.PHASE_AUTH) or settings.tls == "starttls":
        return True
    return bool(offered)  # auto


def execute_case(case, settings, probe, send_data, clock=time.monotonic):
    """Run one case's session; returns (CaseOutcome, SmtpSession)."""
    outcome = rc.CaseOutcome()
    session = None
    transaction_open = False
    try:
        source_address = settings.auth_rate_source_address if case.expect_rate_limit else None
        session, greeting = probe.open(source_address)
        outcome.greeting = greeting
        if settings.tls == "implicit":
            outcome.tls_established = True
            outcome.tls_version = session.tls_version
            outcome.tls_verified = settings.tls_verify
        if greeting.code != 220:
            outcome.error = "greeting %d %s" % (greeting.code, greeting.text)
            return outcome, session
        ehlo = session.ehlo(settings.helo_name)
        outcome.ehlo = ehlo
        if not ehlo.positive:
            outcome.error = "EHLO/HELO refused: %d %s" % (ehlo.code, ehlo.text)
            return outcome, session
        if settings.tls != "implicit":
            outcome.starttls_offered = "STARTTLS" in session.extensions
            outcome.auth_offered_cleartext = auth_mechanisms(session.extensions)

        if case.kind == rc.AUTH_BEFORE_TLS:
            # Decoy credentials: a refusal other than 535 shows the server will not even look at them.
            outcome.auth_reply = session.auth(_random_secret("relay-audit-decoy"), _random_secret("decoy"), "PLAIN")
            return outcome, session

        if _wants_starttls(case, settings, outcome.starttls_offered):
            if not outcome.starttls_offered:
                outcome.error = "STARTTLS is not offered"
                return outcome, session
            reply = session.starttls(probe.tls_context, settings.tls_server_name)
            outcome.starttls_reply = reply
            if reply.code != 220:
                outcome.error = "STARTTLS refused: %d %s" % (reply.code, reply.text)
                return outcome, session
            outcome.tls_established = True
            outcome.tls_version = session.tls_version
            outcome.tls_verified = settings.tls_verify
            ehlo = session.ehlo(settings.helo_name)
            if not ehlo.positive:
                outcome.error = "EHLO after STARTTLS refused: %d %s" % (ehlo.code, ehlo.text)
                return outcome, session
        if case.kind == rc.STARTTLS:
            return outcome, session
        if case.kind == rc.WRONG_PASSWORD:
            outcome.auth_reply = session.auth(settings.username, _random_secret("wrong"),
                                              _pick_mechanism(session.extensions))
            return outcome, session
        if case.phase == rc.PHASE_AUTH:
            outcome.auth_reply = session.auth(settings.username, settings.password,
                                              _pick_mechanism(session.extensions))
            if outcome.auth_reply.code != 235:
                return outcome, session

        transaction_open = True
        outcome.mail_reply = session.command("MAIL FROM:%s" % case.mail_from)
        if not outcome.mail_reply.positive:
            return outcome, session
        for argument, _judged in case.rcpts:
            outcome.rcpt_replies.append(session.command("RCPT TO:%s" % argument))
        judged_accepted = any(reply.positive for (_arg, judged), reply in zip(case.rcpts, outcome.rcpt_replies)
                              if judged)
        if send_data and judged_accepted and case.kind in (rc.RELAY_ATTEMPT, rc.MUST_DELIVER):
            message = rc.build_probe_message(case, settings.helo_name)
            shown = "<probe message, %d bytes, token %s>" % (len(message), case.token)
            outcome.data_reply, outcome.data_final = session.data(message, shown)
            if outcome.data_final is not None and outcome.data_final.positive:
                outcome.data_sent_at = clock()
                transaction_open = False
    except SmtpProbeError as exc:
        outcome.error = str(exc)
    finally:
        if session is not None and session.connected:
            if transaction_open:
                try:
                    session.command("RSET")
                except SmtpProbeError:
                    pass
            session.quit()
    return outcome, session


def _evidence_by_token(arrivals, cases):
    tokens = [case.token for case in cases if case.token]
    message_ids = [rc.probe_message_id(token) for token in tokens]
    relays = {}
    bounces = {}
    unattributed = []
    for arrival in arrivals:
        kind, found = attribute(arrival, tokens, message_ids)
        if kind is None:
            unattributed.append(arrival.summary())
            continue
        bucket = relays if kind == RELAY else bounces
        for token in found:
            bucket.setdefault(token, []).append(arrival.summary(kind))
    return relays, bounces, unattributed


def _settled(cases_with_data, arrivals, expect_delivery):
    """True when every message sent has shown up (relay or bounce) or needs no waiting."""
    relays, bounces, _unattributed = _evidence_by_token(arrivals, cases_with_data)
    for case in cases_with_data:
        if case.kind == rc.MUST_DELIVER and not expect_delivery:
            continue
        if case.token not in relays and case.token not in bounces:
            return False
    return True


def _case_result(case, session, verdict, reason, evidence):
    arrivals = []
    if evidence is not None:
        arrivals = evidence.relays + evidence.bounces
    return {
        "name": case.name,
        "description": case.description,
        "kind": case.kind,
        "source": case.source,
        "token": case.token,
        "planned": case.plan(),
        "sent": session.sent_lines() if session is not None else [],
        "replies": session.reply_dicts() if session is not None else [],
        "transcript": session.transcript_lines() if session is not None else [],
        "verdict": verdict,
        "reason": reason,
        "arrivals": arrivals,
    }


def _report(settings, results, server, capture_info, check_mode):
    text, counts, names = rc.summarize(settings.target, results)
    ok = not names[rc.FAIL] and (settings.allow_inconclusive or not names[rc.INCONCLUSIVE])
    return {
        "target": settings.target,
        "foreign_domain": settings.foreign_domain,
        "tls_verified": settings.tls_verify,
        "check_mode": check_mode,
        "server": server,
        "cases": results,
        "summary": text,
        "counts": counts,
        "failed_cases": names[rc.FAIL],
        "inconclusive_cases": names[rc.INCONCLUSIVE],
        "bounced_cases": names[rc.BOUNCED],
        "capture": capture_info,
        "ok": ok,
    }


def plan_only(settings, run_id=None):
    """Check mode: the cases that would run, all skipped, with nothing sent."""
    cases = plan_cases(settings, run_id or new_run_id())
    results = [_case_result(case, None, rc.SKIPPED, "check mode: nothing was sent", None)
               for case in cases]
    return _report(settings, results, None, None, True)


def run_audit(settings, run_id=None, clock=time.monotonic):
    """Run every selected case against the server; returns the report dict.

    Raises AuditError when the audit cannot start (capture cannot listen,
    server unreachable).
    """
    run_id = run_id or new_run_id()
    expect_delivery = settings.capture.expect_delivery if settings.capture is not None else True
    listener = None
    if settings.capture is not None:
        listener = CaptureListener(settings.capture.listen, settings.capture.port,
                                   hostname=settings.capture.hostname)
        try:
            listener.start()
        except CaptureError as exc:
            raise AuditError("capture: %s" % exc)
    try:
        server = discover(settings)
        cases = plan_cases(settings, run_id, server["name"], server["address"])
        probe = _Probe(settings)
        runs = []
        seconds = {}
        for case in cases:
            if case.skip_reason:
                runs.append((case, None, None))
                continue
            started = clock()
            outcome, session = execute_case(case, settings, probe, send_data=listener is not None, clock=clock)
            seconds[case.token] = clock() - started
            runs.append((case, outcome, session))

        capture_info = None
        evidence_for = {}
        if listener is not None:
            sent_at = dict((case.token, outcome.data_sent_at) for case, outcome, _s in runs
                           if outcome is not None and outcome.data_sent_at is not None)
            sent = [case for case in cases if case.token in sent_at]
            if sent:
                deadline = max(sent_at.values()) + settings.capture.wait
                listener.wait_until(lambda arrivals: _settled(sent, arrivals, expect_delivery), deadline, clock=clock)
            arrivals = listener.arrivals()
            relays, bounces, unattributed = _evidence_by_token(arrivals, cases)
            for case in cases:
                evidence_for[case.token] = rc.CaptureEvidence(
                    settings.capture.wait, relays.get(case.token), bounces.get(case.token))
            capture_info = {
                "listen": "%s:%s" % listener.address,
                "refused_sessions": listener.refused_sessions,
                "cut_sessions": listener.cut_sessions,
                "wait": settings.capture.wait,
                "arrivals": len(arrivals),
                "relayed": sum(len(v) for v in relays.values()),
                "bounces": sum(len(v) for v in bounces.values()),
                "unattributed": unattributed,
            }
    finally:
        if listener is not None:
            listener.stop()

    results = []
    # A 4xx at a warm-up already showed the limit; the over-rate attempt may then fall into a new rate window.
    rate_refusal = rc.first_rate_refusal([(case, outcome) for case, outcome, _session in runs])
    for case, outcome, session in runs:
        evidence = evidence_for.get(case.token)  # None without a capture listener
        verdict, reason = rc.judge(case, outcome, evidence, expect_delivery=expect_delivery, rate_refusal=rate_refusal)
        if (verdict == rc.PASS and capture_info and (capture_info["refused_sessions"] or capture_info["cut_sessions"])
                and outcome is not None and outcome.data_sent_at is not None and evidence is not None
                and not evidence.relays and not evidence.bounces):
            # It passed because no copy arrived; the listener turned sessions away, so that proves nothing.
            verdict = rc.INCONCLUSIVE
            reason = ("%s; but the capture listener refused %d and cut %d session(s) over its bounds, so a copy may "
                      "have been kept out" % (reason, capture_info["refused_sessions"], capture_info["cut_sessions"]))
        result = _case_result(case, session, verdict, reason, evidence)
        result["seconds"] = round(seconds.get(case.token, 0.0), 3)
        results.append(result)
    return _report(settings, results, server, capture_info, False)
