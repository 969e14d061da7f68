# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay audit's cases, per server role, and the verdict on each.

Pure code: building a case list and judging a recorded session touch no
network. ``_relay_audit`` runs the sessions; ``_smtp_capture`` reports what
reached the capture listener.

Where the address tricks come from (cited per case in ``source``):

- MAPS: the battery that relay-test.mail-abuse.org (MAPS RSS/ORDB era) ran
  against a server: a quote test and tests 1-19 with spoofed, null,
  unqualified and localhost senders, percent hack, ``user@foreign@host``,
  quoted local parts, source routes and bang paths, each aimed at the
  server's own name and its IP literal.
- NMAP: the 16 MAIL/RCPT combinations of nmap's ``smtp-open-relay.nse``
  (a descendant of the same list).
- POSTFIX: Postfix's documented relay rules - ``allow_untrusted_routing``
  (sender-specified routing ``user%remote@own``, ``remote!user@own``,
  ``"user@remote"@own`` to relay domains), ``swap_bangpath``,
  ``allow_percent_hack``, ``resolve_dequoted_address`` and
  ``strict_rfc821_envelopes``.
- RFC: RFC 5321 (address literals 4.1.3, source routes 4.1.2 and
  Appendix C, quoted local parts 4.1.2), RFC 5737 (192.0.2.0/24) and
  RFC 2606/6761 (reserved names).
- VARIANT: variants of the classic forms that defeat naive matching in
  filters placed in front of a relay (own domain with a trailing dot or in
  mixed case, look-alike domains, percent chains, a foreign recipient after
  an accepted own one).
- EDGE: what an Internet-facing server must not accept even though it is no
  relay: local destinations (RFC 5321 4.1.3 address literals, unqualified
  and localhost recipients; plain ``postmaster`` is the RFC 5321 4.5.1
  exception), subdomains of the own domains and unknown recipients (the
  relay would bounce them later: backscatter, RFC 5321 6.2 and 3.6.2's
  advice to refuse rather than bounce), and the submission limits of RFC 8314
  (implicit TLS) and Postfix's anvil (AUTH rate).

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import fnmatch
import re

ROLES = ("inbound_relay", "submission", "hub")

# What a case expects of the server.
RELAY_ATTEMPT = "relay_attempt"    # refuse, or accept but never deliver (capture proves it)
MUST_REFUSE = "must_refuse"        # refuse; acceptance alone is a failure
MUST_ACCEPT = "must_accept"        # accept at RCPT (own-domain mail)
MUST_DELIVER = "must_deliver"      # authenticated relay: accept and, with a capture, arrive
STARTTLS = "starttls"              # STARTTLS offered and the handshake succeeds
AUTH_BEFORE_TLS = "auth_before_tls"  # no AUTH in clear text
WRONG_PASSWORD = "wrong_password"  # AUTH with a wrong password refused

# How a case's session is set up.
PHASE_SESSION = "session"      # TLS as the ``tls`` option says
PHASE_CLEARTEXT = "cleartext"  # never STARTTLS
PHASE_TLS = "tls"              # STARTTLS (or implicit TLS) required, no AUTH
PHASE_AUTH = "auth"            # TLS, then AUTH with the audit's credentials

PASS = "pass"
FAIL = "fail"
BOUNCED = "bounced"
INCONCLUSIVE = "inconclusive"
SKIPPED = "skipped"
VERDICTS = (PASS, FAIL, BOUNCED, INCONCLUSIVE, SKIPPED)

SOURCE_MAPS = "MAPS relay-test.mail-abuse.org battery"
SOURCE_NMAP = "nmap smtp-open-relay.nse"
SOURCE_POSTFIX = "Postfix relay rules"
SOURCE_VARIANT = "relay_audit variant of a classic form"
SOURCE_LOCAL = "RFC 5321 4.1.3 address literal; Postfix local domain class (inet_interfaces)"
SOURCE_BACKSCATTER = "RFC 5321 6.2 (refuse rather than bounce); Postfix BACKSCATTER_README"
AUTH_RATE_LIMIT_SOURCE = "Postfix smtpd_client_auth_rate_limit (anvil); RFC 4954 4 (4xx: temporary)"

MESSAGE_ID_DOMAIN = "relay-audit.invalid"

# Refusals that say the foreign domain does not exist rather than that
# relaying is closed: such a refusal proves nothing about relaying.
_WRONG_REASON = re.compile(
    r"domain not found|host or domain name not found|domain does not accept mail|"
    r"unrouteable address|no such domain|name service error",
    re.IGNORECASE)


class Case(object):
    """One audit case: what to send and what the server must do with it."""

    def __init__(self, name, description, kind, phase, source, mail_from=None, rcpts=None,
                 token=None, skip_reason=None, expect_rate_limit=None):
        self.name = name
        self.description = description
        self.kind = kind
        self.phase = phase
        self.source = source
        # Exact text after "MAIL FROM:" and after "RCPT TO:", sent verbatim.
        self.mail_from = mail_from
        # [(argument text, judged)]: only judged recipients decide the verdict.
        self.rcpts = list(rcpts or [])
        self.token = token
        self.skip_reason = skip_reason
        # A brute-force series: a "warm-up" AUTH passes when it succeeds or is already over
        # the rate (4xx); the "over" one (a wrong password) passes only with the 4xx of a rate limit.
        self.expect_rate_limit = expect_rate_limit

    def plan(self):
        """What the case will send, for check mode and reports."""
        steps = []
        if self.mail_from is not None:
            steps.append("MAIL FROM:%s" % self.mail_from)
            steps.extend("RCPT TO:%s" % arg for arg, _judged in self.rcpts)
        elif self.kind == AUTH_BEFORE_TLS:
            steps.append("EHLO, AUTH PLAIN <decoy credentials> without TLS")
        elif self.kind == WRONG_PASSWORD:
            steps.append("STARTTLS, AUTH <username> <wrong password>")
        elif self.kind == STARTTLS:
            steps.append("STARTTLS")
        return steps


class CaseOutcome(object):
    """What happened in a case's session (filled in by the runner)."""

    def __init__(self):
        self.error = None             # str: why the session stopped early
        self.greeting = None          # SmtpReply
        self.ehlo = None
        self.starttls_offered = None  # bool, from the cleartext EHLO
        self.starttls_reply = None
        self.tls_established = False
        self.tls_version = None
        self.tls_verified = False
        self.auth_offered_cleartext = None  # list of mechanisms or []
        self.auth_reply = None
        self.mail_reply = None
        self.rcpt_replies = []        # aligned with case.rcpts (shorter if cut off)
        self.data_reply = None        # reply to DATA (354 expected)
        self.data_final = None        # reply after the message
        self.data_sent_at = None      # monotonic time the message was sent


class CaptureEvidence(object):
    """What the capture listener saw for one case token (None = no listener)."""

    def __init__(self, wait, relays=None, bounces=None):
        self.wait = wait
        self.relays = list(relays or [])
        self.bounces = list(bounces or [])


# ---------------------------------------------------------------------------
# Building the cases
# ---------------------------------------------------------------------------

def ip_literal(address):
    """RFC 5321 address literal for an IPv4 or IPv6 address."""
    if ":" in address:
        return "[IPv6:%s]" % address
    return "[%s]" % address


def make_token(run_id, index):
    """A case token: unique per case and run, a valid local part, no prefix of another."""
    return "relayaudit-%s-%03d" % (run_id, index)


def probe_message_id(token):
    return "<%s@%s>" % (token, MESSAGE_ID_DOMAIN)


def mixed_case(domain):
    """own.example -> OwN.eXaMpLe: the same domain for any RFC-abiding server."""
    out = []
    upper = True
    for char in domain:
        if char.isalpha():
            out.append(char.upper() if upper else char.lower())
            upper = not upper
        else:
            out.append(char)
    return "".join(out)


def own_recipient_for(domain, own_recipient):
    """The existing recipient used for ``domain``: the given address, or local part@domain."""
    if "@" in own_recipient:
        local, _at, rdomain = own_recipient.rpartition("@")
        if rdomain.lower().rstrip(".") == domain.lower():
            return own_recipient
        return "postmaster@%s" % domain
    return "%s@%s" % (own_recipient, domain)


class CaseContext(object):
    """Everything the catalogue needs to spell out the addresses."""

    def __init__(self, role, own_domains, foreign_domain="example.net", own_recipient="postmaster",
                 sender=None, server_name="server.invalid", server_ip="192.0.2.254",
                 foreign_ip="192.0.2.1", username=None, other_sender=None, tls="auto",
                 auth_rate_limit=None):
        self.role = role
        self.own_domains = list(own_domains)
        self.foreign_domain = foreign_domain
        self.own_recipient = own_recipient
        self.sender = sender or default_sender(role, foreign_domain, username)
        self.server_name = server_name
        self.server_ip = server_ip
        self.foreign_ip = foreign_ip
        self.username = username
        self.other_sender = other_sender
        self.tls = tls
        # AUTH commands per minute the submission server allows; None: the brute-force
        # series is skipped (it locks the probe's address out of AUTH for a minute).
        self.auth_rate_limit = auth_rate_limit


def default_sender(role, foreign_domain, username=None):
    """A stranger on inbound relays and hubs; the user's own address on submission."""
    if role == "submission" and username and "@" in username:
        return username
    return "relay-audit@%s" % foreign_domain


def _relay_battery(ctx):
    """(name, description, source, mail_from, rcpt template) for the anonymous relay attempts.

    ``{t}`` in a template is the case token (the recipient's local part).
    """
    f = ctx.foreign_domain
    h = ctx.server_name
    i = ip_literal(ctx.server_ip)
    s = "<%s>" % ctx.sender
    battery = [
        ("foreign-recipient", "Plain relay: a stranger's mail to a foreign domain.",
         SOURCE_MAPS + " test 1; " + SOURCE_NMAP, s, "<{t}@%s>" % f),
        ("null-sender", "Null reverse path (as in a bounce) to a foreign domain.",
         SOURCE_MAPS + " test 5; " + SOURCE_NMAP, "<>", "<{t}@%s>" % f),
        ("unqualified-sender", "Sender without a domain, which the server may complete with its own.",
         SOURCE_MAPS + " test 4", "<relay-audit>", "<{t}@%s>" % f),
        ("localhost-sender", "Sender at localhost, trusted by naive configurations.",
         SOURCE_MAPS + " test 3", "<relay-audit@localhost>", "<{t}@%s>" % f),
        ("server-name-sender", "Sender spoofed at the server's own host name.",
         SOURCE_MAPS + " test 6; " + SOURCE_NMAP, "<relay-audit@%s>" % h, "<{t}@%s>" % f),
        ("server-ip-sender", "Sender spoofed at the server's own IP literal.",
         SOURCE_MAPS + " test 7; " + SOURCE_NMAP, "<relay-audit@%s>" % i, "<{t}@%s>" % f),
        ("quoted-recipient", "Whole foreign address quoted as a local part, no domain.",
         SOURCE_MAPS + " quote test and test 10; " + SOURCE_NMAP, s, '<"{t}@%s">' % f),
        ("quoted-percent", "Quoted percent-hack local part, no domain.",
         SOURCE_MAPS + " test 11; " + SOURCE_NMAP, s, '<"{t}%%%s">' % f),
        ("percent-hack-server-ip", "Percent hack through the server's IP literal.",
         SOURCE_MAPS + " test 8; " + SOURCE_NMAP, s, "<{t}%%%s@%s>" % (f, i)),
        ("percent-hack-server-name", "Percent hack through the server's host name.",
         SOURCE_MAPS + " test 9; " + SOURCE_NMAP, s, "<{t}%%%s@%s>" % (f, h)),
        ("double-at-server-name", "Foreign address with the server's name appended (user@foreign@server).",
         SOURCE_MAPS + " test 12; " + SOURCE_NMAP, s, "<{t}@%s@%s>" % (f, h)),
        ("double-at-server-ip", "Foreign address with the server's IP literal appended.",
         SOURCE_MAPS + " test 14; " + SOURCE_NMAP, s, "<{t}@%s@%s>" % (f, i)),
        ("quoted-at-server-name", "Quoted foreign address as local part at the server's name.",
         SOURCE_MAPS + " test 13", s, '<"{t}@%s"@%s>' % (f, h)),
        ("quoted-at-server-ip", "Quoted foreign address as local part at the server's IP literal.",
         SOURCE_NMAP, s, '<"{t}@%s"@%s>' % (f, i)),
        ("source-route-server-name", "RFC 821 source route through the server's name.",
         SOURCE_MAPS + " test 15; " + SOURCE_NMAP, s, "<@%s:{t}@%s>" % (h, f)),
        ("source-route-server-ip", "RFC 821 source route through the server's IP literal.",
         SOURCE_MAPS + " test 16; " + SOURCE_NMAP, s, "<@%s:{t}@%s>" % (i, f)),
        ("bang-path", "UUCP bang path to a foreign host, no domain.",
         SOURCE_MAPS + " test 17; " + SOURCE_NMAP, s, "<%s!{t}>" % f),
        ("bang-path-server-name", "Bang path at the server's host name.",
         SOURCE_MAPS + " test 18; " + SOURCE_NMAP, s, "<%s!{t}@%s>" % (f, h)),
        ("bang-path-server-ip", "Bang path at the server's IP literal.",
         SOURCE_MAPS + " test 19; " + SOURCE_NMAP, s, "<%s!{t}@%s>" % (f, i)),
        ("ip-literal-recipient", "Recipient at a foreign IP address literal (RFC 5737 test address).",
         "RFC 5321 4.1.3 address literal", s, "<{t}@%s>" % ip_literal(ctx.foreign_ip)),
        ("trailing-dot-recipient", "Foreign domain with a trailing dot.",
         SOURCE_VARIANT, s, "<{t}@%s.>" % f),
        ("uppercase-recipient", "Foreign domain in upper case.",
         SOURCE_VARIANT, s, "<{t}@%s>" % f.upper()),
        ("bare-recipient", "Foreign recipient without angle brackets (tolerated unless strict_rfc821_envelopes).",
         SOURCE_POSTFIX + " (strict_rfc821_envelopes); RFC 5321 4.1.2", s, "{t}@%s" % f),
    ]
    return battery


def _own_domain_battery(ctx, domain):
    """Relay attempts that hide a foreign recipient inside an own-domain address."""
    f = ctx.foreign_domain
    h = ctx.server_name
    s = "<%s>" % ctx.sender
    return [
        ("own-sender", "Stranger claiming an own-domain sender, to a foreign domain.",
         SOURCE_VARIANT + " (relay allowed by sender domain)", "<relay-audit@%s>" % domain, "<{t}@%s>" % f),
        ("percent-hack", "Percent hack through an own domain (user%foreign@own).",
         SOURCE_MAPS + " test 9 form; " + SOURCE_POSTFIX + " (allow_untrusted_routing, allow_percent_hack)",
         s, "<{t}%%%s@%s>" % (f, domain)),
        ("percent-chain", "Two percent hops through an own domain (user%foreign%own@own).",
         SOURCE_VARIANT + " (percent_hack_domains chains)", s, "<{t}%%%s%%%s@%s>" % (f, domain, domain)),
        ("double-at", "Foreign address with an own domain appended (user@foreign@own).",
         SOURCE_MAPS + " test 12 form; " + SOURCE_NMAP, s, "<{t}@%s@%s>" % (f, domain)),
        ("quoted-local-part", "Quoted foreign address as local part at an own domain (\"user@foreign\"@own).",
         SOURCE_MAPS + " test 13 form; " + SOURCE_POSTFIX + " (resolve_dequoted_address)",
         s, '<"{t}@%s"@%s>' % (f, domain)),
        ("quoted-percent-own", "Quoted percent-hack local part at an own domain.",
         SOURCE_MAPS + " test 11 form", s, '<"{t}%%%s"@%s>' % (f, domain)),
        ("source-route", "Source route through an own domain (@own:user@foreign).",
         SOURCE_MAPS + " test 15 form; RFC 5321 4.1.2", s, "<@%s:{t}@%s>" % (domain, f)),
        ("source-route-multi-hop", "Source route with two hops (@own,@server:user@foreign).",
         "RFC 5321 Appendix C", s, "<@%s,@%s:{t}@%s>" % (domain, h, f)),
        ("bang-path", "Bang path at an own domain (foreign!user@own).",
         SOURCE_MAPS + " test 18 form; " + SOURCE_POSTFIX + " (swap_bangpath)", s, "<%s!{t}@%s>" % (f, domain)),
        ("escaped-at", "Backslash-escaped @ in the local part (user\\@foreign@own).",
         SOURCE_VARIANT + " (RFC 5321 quoted-pair outside quotes)", s, "<{t}\\@%s@%s>" % (f, domain)),
        ("percent-hack-trailing-dot", "Percent hack through the own domain written with a trailing dot.",
         SOURCE_VARIANT, s, "<{t}%%%s@%s.>" % (f, domain)),
        ("percent-hack-mixed-case", "Percent hack through the own domain in mixed case.",
         SOURCE_VARIANT, s, "<{t}%%%s@%s>" % (f, mixed_case(domain))),
        ("lookalike-suffix", "A foreign domain that merely ends with the own domain's name.",
         SOURCE_VARIANT + " (unanchored suffix match)", s, "<{t}@audit-%s>" % domain),
        ("lookalike-prefix", "The own domain as the first labels of a foreign domain.",
         SOURCE_VARIANT + " (unanchored prefix match)", s, "<{t}@%s.%s>" % (domain, f)),
    ]


# Cases aimed at accounts every host has, not at a token: they are refused, never delivered.
LOCAL_ACCOUNT_CASES = ("local-ip-literal", "localhost-recipient", "unqualified-recipient", "auth-local-ip-literal")


def _local_destination_cases(ctx, kind, phase, prefix=""):
    """Local destinations an edge server does not serve, refused at RCPT."""
    s = "<%s>" % ctx.sender
    return [
        Case(prefix + "local-ip-literal", "The local root account at the server's own address literal (root@[own address]).",
             kind, phase, SOURCE_LOCAL, s, [("<root@%s>" % ip_literal(ctx.server_ip), True)]),
        Case(prefix + "localhost-recipient", "postmaster@localhost: a local destination, not a mail domain.",
             kind, phase, "RFC 5321 2.3.5 (domain names); " + SOURCE_MAPS + " test 3 form", s, [("<postmaster@localhost>", True)]),
        Case(prefix + "unqualified-recipient", "The local root account without a domain (only postmaster may lack one).",
             kind, phase, "RFC 5321 4.1.1.3 (only postmaster may lack a domain)", s, [("<root>", True)]),
    ]


def _edge_cases(ctx):
    """Inbound relay: local destinations, subdomains and unknown recipients are refused at RCPT."""
    s = "<%s>" % ctx.sender
    cases = [Case("postmaster-unqualified", "Plain postmaster (no domain) must be accepted and reach the hub's postmaster.",
                  MUST_ACCEPT, PHASE_SESSION, "RFC 5321 4.5.1 (postmaster without a domain)", s, [("<postmaster>", True)])]
    cases.extend(_local_destination_cases(ctx, MUST_REFUSE, PHASE_SESSION))
    for domain in ctx.own_domains:
        cases.append(Case("subdomain@%s" % domain,
                          "A subdomain of an own domain that the description does not list (accepted, it would bounce).",
                          MUST_REFUSE, PHASE_SESSION, SOURCE_BACKSCATTER + "; Postfix parent_domain_matches_subdomains",
                          s, [("<{t}@relay-audit-sub.%s>" % domain, True)]))
        cases.append(Case("unknown-recipient@%s" % domain,
                          "An unknown recipient of an own domain (accepted, it would bounce to a forged sender).",
                          MUST_REFUSE, PHASE_SESSION, SOURCE_BACKSCATTER + "; Postfix relay_recipient_maps",
                          s, [("<{t}@%s>" % domain, True)]))
    return cases


def build_cases(ctx, run_id):
    """The ordered case list for ``ctx.role``; every case gets its own token."""
    if ctx.role not in ROLES:
        raise ValueError("unknown role %r" % ctx.role)
    cases = []

    def add(case):
        case.token = make_token(run_id, len(cases))
        cases.append(case)

    def add_attempts(kind, phase):
        for name, description, source, mail_from, rcpt in _relay_battery(ctx):
            add(Case(name, description, kind, phase, source, mail_from, [(rcpt, True)]))
        for domain in ctx.own_domains:
            for name, description, source, mail_from, rcpt in _own_domain_battery(ctx, domain):
                add(Case("%s@%s" % (name, domain), description, kind, phase, source, mail_from, [(rcpt, True)]))
            add(Case("second-recipient-foreign@%s" % domain,
                     "A foreign recipient after an accepted own-domain one, in the same transaction.",
                     kind, phase, SOURCE_VARIANT + " (per-transaction instead of per-recipient checks)",
                     "<%s>" % ctx.sender,
                     [("<%s>" % own_recipient_for(domain, ctx.own_recipient), False),
                      ("<{t}@%s>" % ctx.foreign_domain, True)]))

    if ctx.role == "inbound_relay":
        for domain in ctx.own_domains:
            add(Case("own-domain-accepted@%s" % domain,
                     "Mail from a stranger to an existing own-domain recipient must be accepted.",
                     MUST_ACCEPT, PHASE_SESSION, "topology: inbound relay accepts its own domains",
                     "<%s>" % ctx.sender, [("<%s>" % own_recipient_for(domain, ctx.own_recipient), True)]))
        add_attempts(RELAY_ATTEMPT, PHASE_SESSION)
        for case in _edge_cases(ctx):
            add(case)
    elif ctx.role == "hub":
        add_attempts(RELAY_ATTEMPT, PHASE_SESSION)
        for case in _local_destination_cases(ctx, MUST_REFUSE, PHASE_SESSION):
            add(case)
    else:
        no_tls = "no TLS: the tls option is 'none'" if ctx.tls == "none" else None
        implicit = "implicit TLS: the port has no cleartext phase" if ctx.tls == "implicit" else None
        no_user = None if ctx.username else "no username given"
        if ctx.tls == "implicit":
            add(Case("implicit-tls", "TLS from the first byte (port 465), TLS 1.2 or later.",
                     STARTTLS, PHASE_TLS, "RFC 8314 3.3 (implicit TLS for submission)"))
        else:
            add(Case("starttls-offered", "STARTTLS is offered and the TLS handshake succeeds.",
                     STARTTLS, PHASE_TLS, "RFC 3207; topology: submission over TLS", skip_reason=no_tls))
        add(Case("auth-before-starttls",
                 "AUTH is neither offered nor usable before STARTTLS (decoy credentials are sent, never the real ones).",
                 AUTH_BEFORE_TLS, PHASE_CLEARTEXT, "RFC 4954 4; Postfix smtpd_tls_auth_only",
                 skip_reason=implicit))
        add(Case("auth-wrong-password", "AUTH with the right user name and a wrong password is refused.",
                 WRONG_PASSWORD, PHASE_TLS, "RFC 4954 (535 5.7.8)", skip_reason=no_tls or no_user))
        add(Case("unauth-relay-cleartext", "Unauthenticated relay without TLS.",
                 RELAY_ATTEMPT, PHASE_CLEARTEXT, SOURCE_MAPS + " test 1",
                 "<%s>" % ctx.sender, [("<{t}@%s>" % ctx.foreign_domain, True)], skip_reason=implicit))
        for domain in ctx.own_domains:
            add(Case("unauth-own-domain@%s" % domain,
                     "Unauthenticated mail even to an own domain is refused: submission serves authenticated users only.",
                     MUST_REFUSE, PHASE_SESSION, "topology: submission relays for authenticated users only",
                     "<%s>" % ctx.sender, [("<%s>" % own_recipient_for(domain, ctx.own_recipient), True)]))
        add_attempts(RELAY_ATTEMPT, PHASE_SESSION)
        add(Case("auth-relay", "An authenticated user may relay to a foreign domain.",
                 MUST_DELIVER, PHASE_AUTH, "topology: submission relays for authenticated users",
                 "<%s>" % ctx.sender, [("<{t}@%s>" % ctx.foreign_domain, True)],
                 skip_reason=no_tls or no_user))
        spoof_skip = no_tls or no_user or (None if ctx.other_sender else "no other_sender given")
        add(Case("auth-sender-spoof", "An authenticated user cannot send as someone else.",
                 MUST_REFUSE, PHASE_AUTH, "Postfix reject_sender_login_mismatch",
                 "<%s>" % (ctx.other_sender or ""), [("<{t}@%s>" % ctx.foreign_domain, True)],
                 skip_reason=spoof_skip))
        local = _local_destination_cases(ctx, MUST_REFUSE, PHASE_AUTH, prefix="auth-")[0]
        local.description = "An authenticated user cannot write to a local account at the server's address literal."
        local.skip_reason = no_tls or no_user
        add(local)
        # Only with a known limit (it locks the probe's address out of AUTH for a minute),
        # and last, so that no other case meets the lock-out.
        if ctx.auth_rate_limit:
            rate_skip = no_tls or no_user
            # The allowed AUTH commands, with the right password: a failed one would make the
            # server slow down (Dovecot's auth penalty) and the series would never fit in a minute.
            own = "<%s>" % ctx.sender
            for attempt in range(1, ctx.auth_rate_limit + 1):
                add(Case("auth-rate-warm-up-%d" % attempt, "AUTH %d of the allowed AUTH commands per minute." % attempt,
                         MUST_ACCEPT, PHASE_AUTH, AUTH_RATE_LIMIT_SOURCE, own, [(own, True)],
                         skip_reason=rate_skip, expect_rate_limit="warm-up"))
            add(Case("auth-over-rate", "One AUTH more than the rate limit allows is refused with a temporary error.",
                     WRONG_PASSWORD, PHASE_TLS, AUTH_RATE_LIMIT_SOURCE, skip_reason=rate_skip, expect_rate_limit="over"))

    for case in cases:
        if case.token and case.mail_from is not None:
            case.rcpts = [(arg.replace("{t}", case.token), judged) for arg, judged in case.rcpts]
    return cases


def select_cases(cases, include=None, exclude=None):
    """Keep cases whose name matches an ``include`` glob (all if empty) and no ``exclude`` glob."""
    selected = []
    for case in cases:
        if include and not any(fnmatch.fnmatchcase(case.name, pattern) for pattern in include):
            continue
        if exclude and any(fnmatch.fnmatchcase(case.name, pattern) for pattern in exclude):
            continue
        selected.append(case)
    return selected


def unmatched_patterns(cases, patterns):
    """Patterns that match no case name (likely typos)."""
    return [p for p in patterns or [] if not any(fnmatch.fnmatchcase(c.name, p) for c in cases)]


def build_probe_message(case, helo_name):
    """A tiny message whose Message-ID, subject and body carry the case token."""
    from email.utils import formatdate

    lines = [
        "From: relay-audit <relay-audit@%s>" % MESSAGE_ID_DOMAIN,
        "To: undisclosed-recipients:;",
        "Subject: relay-audit probe %s (%s)" % (case.token, case.name),
        "Date: %s" % formatdate(localtime=False),
        "Message-ID: %s" % probe_message_id(case.token),
        "X-Relay-Audit-Token: %s" % case.token,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "relay-audit probe %s, case %s, sent from %s." % (case.token, case.name, helo_name),
        "A copy of this message outside the audited server means that it relays for strangers.",
        "",
    ]
    return "\r\n".join(lines).encode("ascii", "replace")


# ---------------------------------------------------------------------------
# Verdicts
# ---------------------------------------------------------------------------

def _reply_text(reply):
    return "%d %s" % (reply.code, " ".join(reply.lines).strip())


def _wrong_reason(reply):
    return bool(_WRONG_REASON.search(reply.text))


def _cut_off(outcome, what):
    if outcome.error:
        return INCONCLUSIVE, "session ended before %s: %s" % (what, outcome.error)
    return INCONCLUSIVE, "no reply to %s" % what


def _judged_replies(case, outcome):
    """Replies to the judged recipients, or None when the session was cut off first."""
    replies = []
    for index, (_arg, judged) in enumerate(case.rcpts):
        if not judged:
            continue
        if index >= len(outcome.rcpt_replies) or outcome.rcpt_replies[index] is None:
            return None
        replies.append(outcome.rcpt_replies[index])
    return replies


def _describe_arrival(arrival):
    return "from %s (MAIL FROM:<%s>, RCPT TO:%s)" % (
        arrival.get("peer"), arrival.get("mail_from"), ", ".join("<%s>" % r for r in arrival.get("rcpt_to", [])))


def _judge_refusal(case, outcome, capture, strict):
    """Relay attempts and must-refuse cases."""
    if outcome.auth_reply is not None and case.phase == PHASE_AUTH and outcome.auth_reply.code != 235:
        return INCONCLUSIVE, "authentication failed (%s), so the case proves nothing" % _reply_text(outcome.auth_reply)
    mail = outcome.mail_reply
    if mail is None:
        return _cut_off(outcome, "MAIL FROM")
    if mail.permanent:
        return PASS, "refused at MAIL FROM: %s" % _reply_text(mail)
    if mail.transient:
        return INCONCLUSIVE, "temporarily refused at MAIL FROM (%s): a retry may be accepted" % _reply_text(mail)
    replies = _judged_replies(case, outcome)
    if replies is None:
        return _cut_off(outcome, "RCPT TO")
    accepted = [r for r in replies if r.positive]
    if not accepted:
        transient = [r for r in replies if r.transient]
        if transient:
            return INCONCLUSIVE, "temporarily refused at RCPT TO (%s): a retry may be accepted" % _reply_text(transient[0])
        wrong = [r for r in replies if _wrong_reason(r)]
        if wrong:
            return INCONCLUSIVE, ("refused at RCPT TO because the foreign domain does not resolve (%s), "
                                  "not because relaying is closed: use a foreign_domain that resolves"
                                  % _reply_text(wrong[0]))
        return PASS, "refused at RCPT TO: %s" % _reply_text(replies[0])
    rcpt_text = _reply_text(accepted[0])
    if strict:
        return FAIL, "accepted at RCPT TO (%s), but this server must refuse it" % rcpt_text
    if capture is None:
        return FAIL, ("accepted at RCPT TO (%s); with no capture listener to prove non-delivery, "
                      "acceptance counts as relaying" % rcpt_text)
    if outcome.data_reply is None:
        return _cut_off(outcome, "DATA (sent to prove non-delivery)")
    if outcome.data_reply.permanent:
        return PASS, "accepted at RCPT TO, refused at DATA: %s" % _reply_text(outcome.data_reply)
    if outcome.data_reply.code != 354:
        return INCONCLUSIVE, "accepted at RCPT TO, DATA answered %s" % _reply_text(outcome.data_reply)
    final = outcome.data_final
    if final is None:
        return _cut_off(outcome, "the end of the message")
    if final.permanent:
        return PASS, "accepted at RCPT TO, message refused after DATA: %s" % _reply_text(final)
    if final.transient:
        return INCONCLUSIVE, "accepted at RCPT TO, message temporarily refused after DATA (%s)" % _reply_text(final)
    if capture.relays:
        return FAIL, ("accepted (%s) and relayed: a copy reached the capture listener %s"
                      % (rcpt_text, _describe_arrival(capture.relays[0])))
    if capture.bounces:
        return BOUNCED, ("accepted at RCPT TO (%s), then bounced %s; no copy reached the capture listener within %ss"
                         % (rcpt_text, _describe_arrival(capture.bounces[0]), capture.wait))
    return PASS, ("accepted at RCPT TO (%s), but no copy reached the capture listener within %ss"
                  % (rcpt_text, capture.wait))


def _judge_must_accept(case, outcome):
    mail = outcome.mail_reply
    if mail is None:
        return _cut_off(outcome, "MAIL FROM")
    if mail.permanent:
        return FAIL, "own-domain mail refused at MAIL FROM: %s" % _reply_text(mail)
    if mail.transient:
        return INCONCLUSIVE, "temporarily refused at MAIL FROM: %s" % _reply_text(mail)
    replies = _judged_replies(case, outcome)
    if replies is None:
        return _cut_off(outcome, "RCPT TO")
    reply = replies[0]
    if reply.positive:
        return PASS, "accepted at RCPT TO: %s" % _reply_text(reply)
    if reply.transient:
        return INCONCLUSIVE, "own-domain mail temporarily refused: %s" % _reply_text(reply)
    return FAIL, "own-domain mail refused at RCPT TO: %s" % _reply_text(reply)


def _judge_must_deliver(case, outcome, capture, expect_delivery):
    auth = outcome.auth_reply
    if auth is None:
        return _cut_off(outcome, "AUTH")
    if auth.code != 235:
        if auth.transient:
            return INCONCLUSIVE, "authentication temporarily failed: %s" % _reply_text(auth)
        return FAIL, "authentication with the given credentials failed: %s" % _reply_text(auth)
    mail = outcome.mail_reply
    if mail is None:
        return _cut_off(outcome, "MAIL FROM")
    if not mail.positive:
        verdict = INCONCLUSIVE if mail.transient else FAIL
        return verdict, "authenticated MAIL FROM refused: %s" % _reply_text(mail)
    replies = _judged_replies(case, outcome)
    if replies is None:
        return _cut_off(outcome, "RCPT TO")
    reply = replies[0]
    if not reply.positive:
        verdict = INCONCLUSIVE if reply.transient else FAIL
        return verdict, "authenticated relay refused at RCPT TO: %s" % _reply_text(reply)
    if capture is None or not expect_delivery:
        return PASS, "authenticated relay accepted at RCPT TO (%s); delivery not checked" % _reply_text(reply)
    if outcome.data_reply is None or outcome.data_final is None:
        return _cut_off(outcome, "the end of the message")
    final = outcome.data_final if outcome.data_reply.code == 354 else outcome.data_reply
    if not final.positive:
        verdict = INCONCLUSIVE if final.transient else FAIL
        return verdict, "authenticated message refused: %s" % _reply_text(final)
    if capture.relays:
        return PASS, "authenticated relay delivered: it reached the capture listener %s" % _describe_arrival(capture.relays[0])
    if capture.bounces:
        return FAIL, "authenticated relay accepted but bounced %s" % _describe_arrival(capture.bounces[0])
    return FAIL, ("authenticated relay accepted but did not reach the capture listener within %ss: "
                  "check the path to the upstream smart host" % capture.wait)


def _judge_starttls(case, outcome):
    if outcome.tls_established and outcome.tls_version in ("TLSv1", "TLSv1.1", "SSLv3"):
        return FAIL, "TLS established with %s: older than TLS 1.2 (RFC 8996)" % outcome.tls_version
    if outcome.tls_established:
        return PASS, "TLS established (%s, certificate %s)" % (
            outcome.tls_version or "unknown version", "verified" if outcome.tls_verified else "not verified")
    if outcome.starttls_offered is False:
        return FAIL, "STARTTLS is not offered"
    if outcome.starttls_reply is not None and outcome.starttls_reply.code != 220:
        return FAIL, "STARTTLS refused: %s" % _reply_text(outcome.starttls_reply)
    if outcome.error:
        return FAIL, "TLS could not be established: %s" % outcome.error
    return INCONCLUSIVE, "TLS state unknown"


def _judge_auth_before_tls(case, outcome):
    if outcome.auth_offered_cleartext is None:
        return _cut_off(outcome, "EHLO")
    if outcome.auth_offered_cleartext:
        return FAIL, "AUTH %s is offered before STARTTLS: clients will send passwords in clear text" % (
            " ".join(outcome.auth_offered_cleartext))
    reply = outcome.auth_reply
    if reply is None:
        return _cut_off(outcome, "AUTH (decoy credentials)")
    if reply.code == 235:
        return FAIL, "decoy credentials accepted in clear text: %s" % _reply_text(reply)
    if reply.code == 334:
        return FAIL, "server continued an AUTH exchange in clear text: %s" % _reply_text(reply)
    if reply.code == 535:
        return FAIL, "server checked credentials sent in clear text (%s)" % _reply_text(reply)
    if reply.transient:
        return INCONCLUSIVE, "AUTH in clear text answered %s" % _reply_text(reply)
    return PASS, "AUTH not offered before STARTTLS and refused: %s" % _reply_text(reply)


# RFC 4954 454 4.7.0: the server could not check credentials (its SASL service is down): no rate limit.
TEMPORARY_AUTH_FAILURE = 454


def _rate_refusal(reply):
    return reply is not None and reply.transient and reply.code != TEMPORARY_AUTH_FAILURE


def first_rate_refusal(cases_and_outcomes):
    """(case name, reply text) of the first warm-up of the brute-force series refused over the rate, else None."""
    for case, outcome in cases_and_outcomes:
        if case.expect_rate_limit == "warm-up" and outcome is not None and outcome.tls_established \
                and _rate_refusal(outcome.auth_reply):
            return case.name, _reply_text(outcome.auth_reply)
    return None


def _judge_rate_warm_up(case, outcome):
    reply = outcome.auth_reply
    if reply is None:
        return _cut_off(outcome, "AUTH")
    if reply.code == 235:
        return PASS, "AUTH counted: %s" % _reply_text(reply)
    if reply.code == TEMPORARY_AUTH_FAILURE:
        return INCONCLUSIVE, "temporary authentication failure (%s): the server could not check, the series proves " \
            "nothing" % _reply_text(reply)
    if reply.transient:
        return PASS, "already over the rate: %s" % _reply_text(reply)
    return INCONCLUSIVE, "authentication with the given credentials failed (%s): the series proves nothing" % _reply_text(reply)


def _judge_wrong_password(case, outcome, rate_refusal=None):
    reply = outcome.auth_reply
    if reply is None:
        return _cut_off(outcome, "AUTH")
    if reply.code == 235:
        return FAIL, "a wrong password was accepted: %s" % _reply_text(reply)
    if case.expect_rate_limit == "over":
        if reply.code == TEMPORARY_AUTH_FAILURE:
            return INCONCLUSIVE, "temporary authentication failure (%s): the server could not check, not a rate " \
                "limit" % _reply_text(reply)
        if reply.transient:
            return PASS, "AUTH over the rate refused: %s" % _reply_text(reply)
        if rate_refusal and reply.code == 535:
            return PASS, ("%s was refused with %s, so the limit holds; this attempt came after anvil's rate window "
                          "restarted (%s)" % (rate_refusal[0], rate_refusal[1], _reply_text(reply)))
        return FAIL, "AUTH over the rate was still checked (%s): no rate limit" % _reply_text(reply)
    if reply.transient:
        return INCONCLUSIVE, "AUTH with a wrong password answered %s" % _reply_text(reply)
    return PASS, "wrong password refused: %s" % _reply_text(reply)


def judge(case, outcome, capture=None, expect_delivery=True, rate_refusal=None):
    """(verdict, reason) for one case.

    ``capture`` is the CaptureEvidence for the case's token, or None when no
    capture listener was configured. ``rate_refusal`` is first_rate_refusal()
    of the audit's cases: a warm-up already refused over the rate shows the
    limit, even when the over-rate attempt falls into a new rate window.
    """
    if case.skip_reason:
        return SKIPPED, case.skip_reason
    if outcome is None:
        return SKIPPED, "not run"
    # A case that needs TLS and did not get it proves nothing (the STARTTLS case judges that itself).
    needs_tls = case.kind == WRONG_PASSWORD or case.phase in (PHASE_TLS, PHASE_AUTH)
    if needs_tls and case.kind not in (STARTTLS, AUTH_BEFORE_TLS) and not outcome.tls_established:
        return _cut_off(outcome, "TLS")
    if case.expect_rate_limit == "warm-up":
        return _judge_rate_warm_up(case, outcome)
    if case.kind == RELAY_ATTEMPT:
        return _judge_refusal(case, outcome, capture, strict=False)
    if case.kind == MUST_REFUSE:
        return _judge_refusal(case, outcome, capture, strict=True)
    if case.kind == MUST_ACCEPT:
        return _judge_must_accept(case, outcome)
    if case.kind == MUST_DELIVER:
        return _judge_must_deliver(case, outcome, capture, expect_delivery)
    if case.kind == STARTTLS:
        return _judge_starttls(case, outcome)
    if case.kind == AUTH_BEFORE_TLS:
        return _judge_auth_before_tls(case, outcome)
    if case.kind == WRONG_PASSWORD:
        return _judge_wrong_password(case, outcome, rate_refusal)
    raise ValueError("unknown case kind %r" % case.kind)


def summarize(target, results):
    """Counts, names per verdict and a one-line summary from result dicts."""
    counts = dict((verdict, 0) for verdict in VERDICTS)
    names = dict((verdict, []) for verdict in VERDICTS)
    for result in results:
        counts[result["verdict"]] += 1
        names[result["verdict"]].append(result["name"])
    text = "%s: %d cases, %d passed, %d failed, %d inconclusive, %d bounced, %d skipped" % (
        target, len(results), counts[PASS], counts[FAIL], counts[INCONCLUSIVE], counts[BOUNCED], counts[SKIPPED])
    if names[FAIL]:
        text += "; failed: " + _name_list(names[FAIL])
    if names[INCONCLUSIVE]:
        text += "; inconclusive: " + _name_list(names[INCONCLUSIVE])
    return text, counts, names


SUMMARY_NAMES = 10


def _name_list(names):
    """At most SUMMARY_NAMES names; the full lists are in the results."""
    shown = ", ".join(names[:SUMMARY_NAMES])
    if len(names) > SUMMARY_NAMES:
        shown += " and %d more" % (len(names) - SUMMARY_NAMES)
    return shown
