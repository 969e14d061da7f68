# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Edge hygiene of a deployed topology, tried with real SMTP sessions (issue 13).

Run against the Postfix instances that ``playbooks/site.yml`` deployed; every
check prints one line (``ok`` or ``FAIL``) and the script exits 1 when one
failed. Each session binds to a loopback source address of its own:

- the probe (allow-listed by postscreen) for the relay's recipient checks;
- the submission server's address for the hub (a client the hub trusts);
- two addresses nobody trusts or allow-lists for postscreen;
- one more for the AUTH brute force, so the limit never locks out the probe.

Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import base64
import email
import glob
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid

FAILURES = []
TIMEOUT = 20


def check(name, passed, detail=""):
    print("%s %s%s" % ("ok  " if passed else "FAIL", name, (": " + detail) if detail else ""))
    if not passed:
        FAILURES.append(name)


def client(host, port, source, implicit=False, context=None):
    if implicit:
        session = smtplib.SMTP_SSL(host, port, source_address=(source, 0), timeout=TIMEOUT, context=context)
    else:
        session = smtplib.SMTP(host, port, source_address=(source, 0), timeout=TIMEOUT)
    session.ehlo("edge-checks.example.com")
    return session


def tls_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def rcpt_code(session, sender, recipient):
    session.rset()
    code, _text = session.mail(sender)
    if code >= 400:
        return code
    code, _text = session.rcpt(recipient)
    return code


def refused(name, session, sender, recipients):
    for recipient in recipients:
        code = rcpt_code(session, sender, recipient)
        check("%s refuses RCPT TO:<%s>" % (name, recipient), 500 <= code < 600, "got %d" % code)


def wait_for(pattern, token, seconds=30):
    """The first file matching ``pattern`` that contains ``token``, or None after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in glob.glob(pattern, recursive=True):
            try:
                with open(path, "rb") as handle:
                    if token.encode() in handle.read():
                        return path
            except OSError:
                continue
        time.sleep(0.5)
    return None


def message(token, sender, recipient):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: edge check %s\r\nMessage-ID: <%s@edge-checks.invalid>\r\n\r\n"
            "edge check %s\r\n" % (sender, recipient, token, token, token))


def relay_checks(args):
    """The inbound relay accepts exactly the valid recipients of the own domains."""
    session = client(args.relay, 25, args.probe)
    try:
        stranger = "edge-check@example.com"
        refused("inbound relay", session, stranger, [
            "root@[%s]" % args.relay, "postmaster@localhost", "root",
            "nobody-%s@%s" % (uuid.uuid4().hex[:8], args.domain),   # unknown recipient
            "postmaster@outside.%s" % args.domain,                  # subdomain not listed
        ])
        token = "edge-%s" % uuid.uuid4().hex[:10]
        session.rset()
        session.mail(stranger)
        code, _text = session.rcpt("postmaster")
        check("inbound relay accepts plain RCPT TO:<postmaster> (RFC 5321)", code == 250, "got %d" % code)
        if code == 250:
            session.data(message(token, stranger, "postmaster"))
            arrived = wait_for(os.path.join(args.maildir_root, args.domain, "postmaster", "**", "*"), token)
            check("plain postmaster reaches the hub's postmaster@%s" % args.domain, arrived is not None)
    finally:
        session.quit()


def hub_checks(args):
    """Even a client the hub trusts cannot use local destinations."""
    session = client(args.hub, 25, args.submission)
    try:
        refused("hub", session, "alice@%s" % args.domain, ["root@[%s]" % args.hub, "postmaster@localhost", "root"])
    finally:
        session.quit()


def hub_trust_checks(args):
    """From the submission server's own address, relaying outward needs its TLS client certificate."""
    foreign = "someone-%s@example.com" % uuid.uuid4().hex[:6]
    session = client(args.hub, 25, args.submission)
    try:
        code = rcpt_code(session, "alice@%s" % args.domain, foreign)
        check("hub refuses outward relaying from the submission address without its certificate",
              500 <= code < 600, "got %d" % code)
        code = rcpt_code(session, "alice@%s" % args.domain, args.mailbox)
        check("hub still takes mail for the own domains from that address", code == 250, "got %d" % code)
    finally:
        session.quit()
    context = tls_context()
    context.load_cert_chain(args.client_cert, args.client_key)
    session = client(args.hub, 25, args.submission)
    try:
        session.starttls(context=context)
        session.ehlo("edge-checks.example.com")
        code = rcpt_code(session, "alice@%s" % args.domain, foreign)
        check("hub relays outward for the submission server's TLS client certificate", code == 250, "got %d" % code)
        session.rset()
    finally:
        session.quit()


def submission_checks(args):
    session = client(args.submission, 587, args.probe)
    try:
        session.starttls(context=tls_context())
        session.ehlo("edge-checks.example.com")
        session.login(args.user, args.password)
        refused("submission (authenticated)", session, args.user, ["root@[%s]" % args.submission, "postmaster@localhost", "root"])
        token = "edge-%s" % uuid.uuid4().hex[:10]
        session.rset()
        session.sendmail(args.user, [args.mailbox], message(token, args.user, args.mailbox))
    finally:
        session.quit()
    local, domain = args.mailbox.split("@")
    path = wait_for(os.path.join(args.maildir_root, domain, local, "**", "*"), token)
    check("authenticated mail reaches %s" % args.mailbox, path is not None)
    if path:
        with open(path, "rb") as handle:
            received = email.message_from_binary_file(handle).get_all("Received") or []
        shown = [line for line in received if args.probe in line or args.user in line]
        check("no Received: header shows the roaming client's address or login", received and not shown,
              "%r" % shown)


def implicit_tls_checks(args):
    session = client(args.submission, 465, args.probe, implicit=True, context=tls_context())
    try:
        version = session.sock.version()
        check("port 465 speaks TLS from the first byte (%s)" % version, version in ("TLSv1.2", "TLSv1.3"))
        code, _text = session.login(args.user, args.password)
        check("AUTH over implicit TLS on 465", code == 235, "got %d" % code)
        code = rcpt_code(session, args.user, args.mailbox)
        check("authenticated mail accepted on 465", code == 250, "got %d" % code)
        code = rcpt_code(session, args.user, "root@[%s]" % args.submission)
        check("465 refuses RCPT TO:<root@[%s]>" % args.submission, 500 <= code < 600, "got %d" % code)
    finally:
        session.quit()


def _wrong_password_attempt(args, attempt, replies):
    """One session, one AUTH PLAIN with a wrong password; the reply goes to ``replies``."""
    try:
        session = client(args.submission, 587, args.brute_force_source)
        try:
            session.starttls(context=tls_context())
            session.ehlo("edge-checks.example.com")
            secret = base64.b64encode(("\0%s\0wrong-%d" % (args.user, attempt)).encode()).decode()
            replies.append(session.docmd("AUTH", "PLAIN " + secret))
        finally:
            session.close()
    except (smtplib.SMTPException, OSError) as exc:
        replies.append((0, str(exc).encode()))


def brute_force_checks(args, attempts=15):
    """Wrong passwords from one address, in parallel as a password guesser sends them (a bounded
    number of sessions): once over the AUTH rate, Postfix answers 4xx without asking for the password."""
    replies = []
    threads = [threading.Thread(target=_wrong_password_attempt, args=(args, attempt, replies)) for attempt in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 3)
    codes = sorted(code for code, _text in replies)
    limited = [text.decode("ascii", "replace") for code, text in replies if 400 <= code < 500 and b"too many AUTH" in text]
    check("AUTH brute force hits the rate limit with a 4xx", bool(limited), "replies %s %s" % (codes, limited[:1]))
    check("no wrong password is ever accepted", 235 not in codes, "replies %s" % codes)


def _collection_root():
    """The directory holding ansible_collections/: the synced copy, or the checkout's .cache/collections."""
    parts = os.path.dirname(os.path.abspath(__file__)).split(os.sep)
    if "ansible_collections" in parts:
        return os.sep.join(parts[:parts.index("ansible_collections")])
    return os.path.join(os.sep.join(parts[:-5]), ".cache", "collections")


def audit_series_checks(args, auth_rate_limit=10):
    """relay_audit's brute-force series (auth-rate-warm-up-N, auth-over-rate), run by the audit's own
    session runner against the real submission server from an address of its own."""
    sys.path.insert(0, _collection_root())
    from ansible_collections.mailrelay.smtp.plugins.module_utils import _relay_audit as audit
    from ansible_collections.mailrelay.smtp.plugins.module_utils import _relay_cases as cases

    settings = audit.AuditSettings(host=args.submission, port=587, role="submission", own_domains=[args.domain],
                                   username=args.user, password=args.password, sender=args.user,
                                   source_address=args.series_source, tls_verify=False, timeout=TIMEOUT)
    server = audit.discover(settings)
    context = cases.CaseContext("submission", [args.domain], sender=args.user, username=args.user,
                                server_name=server["name"], server_ip=server["address"], auth_rate_limit=auth_rate_limit)
    series = [case for case in cases.build_cases(context, audit.new_run_id()) if case.expect_rate_limit]
    check("the audit catalogue has the brute-force series", len(series) == auth_rate_limit + 1, "%d cases" % len(series))
    probe = audit._Probe(settings)
    for case in series:
        outcome, _session = audit.execute_case(case, settings, probe, send_data=False)
        verdict, reason = cases.judge(case, outcome)
        if case.expect_rate_limit == "over" or verdict != cases.PASS:
            check("relay_audit %s" % case.name, verdict == cases.PASS, reason)


def raw_session(host, port, source, talk_first):
    """A hand-made SMTP client; with ``talk_first`` it speaks before the greeting (a spambot)."""
    sock = socket.create_connection((host, port), timeout=TIMEOUT, source_address=(source, 0))
    reader = sock.makefile("rb")

    def reply():
        lines = []
        while True:
            line = reader.readline()
            if not line:
                return (0, lines)
            lines.append(line.decode("ascii", "replace").rstrip())
            if line[3:4] != b"-":
                return (int(line[:3]), lines)

    def command(text):
        sock.sendall(text.encode("ascii") + b"\r\n")
        return reply()
    try:
        if talk_first:
            # postscreen discards what came before its greeting; the client then carries on as usual.
            sock.sendall(b"EHLO spambot.example.com\r\n")
        greeting = reply()
        command("EHLO %s.example.com" % ("spambot" if talk_first else "well-behaved"))
        command("MAIL FROM:<sender@example.com>")
        code, lines = command("RCPT TO:<postmaster@%s>" % args_domain[0])
        command("QUIT")
        return greeting, code, lines
    except (OSError, ValueError) as exc:
        return None, 0, [str(exc)]
    finally:
        sock.close()


args_domain = []


def postscreen_checks(args):
    greeting, code, lines = raw_session(args.relay, 25, args.pregreet_source, talk_first=True)
    check("postscreen refuses a client that talks before the greeting", 500 <= code < 600, "RCPT got %d %s" % (code, lines))
    codes = []
    for _attempt in range(3):  # a real MTA retries after the 4xx of the after-greeting tests
        greeting, code, lines = raw_session(args.relay, 25, args.good_source, talk_first=False)
        codes.append(code)
        if code == 250:
            break
    check("postscreen admits a well-behaved client (after at most one retry)", codes[-1] == 250 and len(codes) <= 2,
          "RCPT replies %s" % codes)


def relay_notice_checks(args):
    """The relay's own non-delivery notice leaves through the hub (and its smart host), not by DNS."""
    relay_dir = "/etc/%s" % args.relay_instance
    table = os.path.join(relay_dir, "relay_recipients")
    ghost = "ghost-%s@%s" % (uuid.uuid4().hex[:6], args.domain)
    with open(table, "r") as handle:
        original = handle.read()
    try:
        # A recipient the relay thinks valid and the hub refuses: the relay must bounce.
        with open(table, "a") as handle:
            handle.write("%s OK\n" % ghost)
        subprocess.run(["postmap", "-c", relay_dir, table], check=True)
        token = "edge-%s" % uuid.uuid4().hex[:10]
        session = client(args.relay, 25, args.probe)
        try:
            session.sendmail("stranger@example.com", [ghost], message(token, "stranger@example.com", ghost))
        finally:
            session.quit()
        arrived = wait_for(os.path.join(args.upstream_dir, "*"), token, seconds=40)
        check("the relay's bounce leaves through the hub to the smart host", arrived is not None)
    finally:
        with open(table, "w") as handle:
            handle.write(original)
        subprocess.run(["postmap", "-c", relay_dir, table], check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submission", required=True)
    parser.add_argument("--relay", required=True)
    parser.add_argument("--relay-instance", required=True)
    parser.add_argument("--hub", required=True)
    parser.add_argument("--probe", required=True, help="source address allow-listed by postscreen")
    parser.add_argument("--pregreet-source", required=True)
    parser.add_argument("--good-source", required=True)
    parser.add_argument("--brute-force-source", required=True)
    parser.add_argument("--series-source", required=True, help="source of relay_audit's brute-force series")
    parser.add_argument("--domain", required=True, help="first own domain")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--mailbox", required=True)
    parser.add_argument("--maildir-root", required=True)
    parser.add_argument("--upstream-dir", required=True)
    parser.add_argument("--client-cert", required=True, help="the submission server's certificate")
    parser.add_argument("--client-key", required=True)
    args = parser.parse_args()
    args_domain.append(args.domain)
    for step in (relay_checks, hub_checks, hub_trust_checks, submission_checks, implicit_tls_checks, brute_force_checks,
                 audit_series_checks,
                 postscreen_checks, relay_notice_checks):
        try:
            step(args)
        except Exception as exc:  # every step reports, whatever went wrong
            check(step.__name__, False, "%s: %s" % (type(exc).__name__, exc))
    print("%d failed" % len(FAILURES) if FAILURES else "edge checks: all passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
