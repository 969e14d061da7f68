# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""recipient_validation: verify, tried with real SMTP sessions against a deployed topology.

The inbound relay asks the Postfix hub at RCPT time (Postfix address verification): a known
mailbox is accepted, an unknown address refused with 5xx at RCPT, and while the hub is down
every not yet verified address gets a 4xx, so the relay never accepts what it would later
bounce (a verified one is still accepted: it is known). After the hub is back, new addresses
are verified again, and no non-delivery notice exists anywhere (queues, mailboxes, upstream,
the relay's log).

Every check prints one line (``ok`` or ``FAIL``); the script exits 1 when one failed. Every
wait is bounded in count and time.
"""

from __future__ import annotations

import argparse
import glob
import os
import smtplib
import subprocess
import sys
import time
import uuid

FAILURES = []
TIMEOUT = 30
# smtpd itself waits up to address_verify_poll_count x address_verify_poll_delay (3 x 3 s) for a
# probe's answer before it says "verification in progress" (450); a client then tries again.
ATTEMPTS = 8
ATTEMPT_DELAY = 2.0


def check(name, passed, detail=""):
    print("%s %s%s" % ("ok  " if passed else "FAIL", name, (": " + detail) if detail else ""))
    if not passed:
        FAILURES.append(name)


def rcpt_reply(args, recipient):
    """(code, text) of RCPT TO:<recipient> from the probe address, as a stranger would send it."""
    session = smtplib.SMTP(args.relay, 25, source_address=(args.probe, 0), timeout=TIMEOUT)
    try:
        session.ehlo("verify-checks.example.com")
        code, _text = session.mail("stranger-%s@example.com" % uuid.uuid4().hex[:8])
        if code != 250:
            return code, "MAIL FROM refused: %s" % _text.decode("utf-8", "replace")
        code, text = session.rcpt(recipient)
        session.rset()
        return code, text.decode("utf-8", "replace")
    finally:
        session.quit()


def in_progress(code, text):
    return code == 450 and "in progress" in text


def settled_reply(args, recipient):
    """Every reply until the verification is no longer in progress (bounded); the last one is final."""
    replies = []
    for _attempt in range(ATTEMPTS):
        code, text = rcpt_reply(args, recipient)
        replies.append((code, text))
        if not in_progress(code, text):
            break
        time.sleep(ATTEMPT_DELAY)
    return replies


def codes(replies):
    return [code for code, _text in replies]


def postmulti(instance, *argv, **kwargs):
    return subprocess.run(["postmulti", "-i", instance] + list(argv), check=True, universal_newlines=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs).stdout


def queue_is_empty(instance):
    return postmulti(instance, "-x", "postqueue", "-j").strip() == ""


def wait_for_empty_queue(instance, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if queue_is_empty(instance):
            return True
        postmulti(instance, "-x", "postqueue", "-f")
        time.sleep(2)
    return queue_is_empty(instance)


def files_under(*roots):
    for root in roots:
        for path in glob.glob(os.path.join(root, "**"), recursive=True):
            if os.path.isfile(path):
                yield path


def read(path):
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


def send(args, recipient, token):
    session = smtplib.SMTP(args.relay, 25, source_address=(args.probe, 0), timeout=TIMEOUT)
    try:
        session.ehlo("verify-checks.example.com")
        session.sendmail("stranger@example.com", [recipient],
                         "Subject: verify %s\r\nMessage-ID: <%s@example.com>\r\n\r\n%s\r\n" % (token, token, token))
    finally:
        session.quit()


def wait_for_file_with(text, roots, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in files_under(*roots):
            if text in read(path):
                return path
        time.sleep(1)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    for option in ("relay", "relay-instance", "hub-instance", "probe", "domain", "mailbox", "second-mailbox",
                   "maildir-root", "upstream-dir"):
        parser.add_argument("--" + option, required=True)
    args = parser.parse_args()
    token = uuid.uuid4().hex[:10]
    unknown = "nobody-%s@%s" % (token, args.domain)
    unknown_while_down = "nobody-down-%s@%s" % (token, args.domain)

    replies = settled_reply(args, args.mailbox)
    check("a mailbox of the hub is accepted at RCPT", replies[-1][0] == 250, "replies %s" % replies)

    replies = settled_reply(args, unknown)
    check("an unknown recipient is refused with 5xx at RCPT, never accepted first",
          replies[-1][0] // 100 == 5 and all(code != 250 for code in codes(replies)), "replies %s" % replies)
    check("the refusal does not quote the hub's reply", args.hub_instance not in replies[-1][1] and "hub." not in replies[-1][1],
          replies[-1][1])
    replies = settled_reply(args, unknown)
    check("the refusal is cached: asked again, refused at once", codes(replies) == [replies[-1][0]] and replies[0][0] // 100 == 5,
          "replies %s" % replies)

    # Delivery still works: a message to the known mailbox reaches it through the hub.
    send(args, args.mailbox, token)
    check("mail for the known mailbox is delivered", wait_for_file_with(token, [args.maildir_root]) is not None)

    print("-- the hub is down")
    postmulti(args.hub_instance, "-p", "stop")
    try:
        for recipient, what in ((args.second_mailbox, "a mailbox not verified yet"),
                                (unknown_while_down, "an unknown recipient")):
            replies = settled_reply(args, recipient)
            check("%s gets 4xx while the hub is down" % what,
                  all(code // 100 == 4 for code in codes(replies)) and not in_progress(*replies[-1]),
                  "replies %s" % replies)
        check("the 4xx names no unknown recipient (the address may well exist)", "unknown" not in replies[-1][1],
              replies[-1][1])
        replies = settled_reply(args, unknown)
        check("the cached refusal still holds while the hub is down", replies[-1][0] // 100 == 5, "replies %s" % replies)
        replies = settled_reply(args, args.mailbox)
        check("the verified mailbox is still accepted while the hub is down", replies[-1][0] == 250, "replies %s" % replies)
    finally:
        postmulti(args.hub_instance, "-p", "start")
    print("-- the hub is back")

    # Probes the hub did not answer are discarded, not queued; their "deferred" results are asked again
    # after address_verify_negative_refresh_time (verify(8): never within 1000 s of the last probe), so
    # the addresses tried during the outage still get 4xx for now: never 250 then a bounce.
    check("the relay queued nothing while the hub was down", wait_for_empty_queue(args.relay_instance, seconds=10))
    for recipient in (args.second_mailbox, unknown_while_down):
        replies = settled_reply(args, recipient)
        check("%s, tried during the outage, is not accepted yet" % recipient,
              all(code // 100 == 4 for code in codes(replies)), "replies %s" % replies)
    refresh = postmulti(args.relay_instance, "-x", "postconf", "-h", "address_verify_negative_refresh_time").strip()
    check("results cached during an outage are asked again within minutes, not hours", refresh == "10m", refresh)
    replies = settled_reply(args, "postmaster@%s" % args.domain)
    check("a mailbox first tried after the outage is accepted", replies[-1][0] == 250, "replies %s" % replies)
    unknown_after = "nobody-after-%s@%s" % (token, args.domain)
    replies = settled_reply(args, unknown_after)
    check("an unknown recipient first tried after the outage is refused with 5xx", replies[-1][0] // 100 == 5,
          "replies %s" % replies)

    check("nothing left in the relay's queue", wait_for_empty_queue(args.relay_instance, seconds=10))
    check("nothing left in the hub's queue", wait_for_empty_queue(args.hub_instance, seconds=30))
    notices = [path for path in files_under(args.maildir_root, args.upstream_dir)
               if "multipart/report" in read(path) or "nobody-" in read(path)]
    check("no non-delivery notice reached a mailbox or the Internet", notices == [], ", ".join(notices))
    relay_log = postmulti(args.relay_instance, "-x", "postconf", "-h", "maillog_file").strip()
    logged = read(relay_log) if relay_log and os.path.isfile(relay_log) else ""
    check("the relay's log has its verification probes", "status=undeliverable" in logged and "status=deliverable" in logged,
          relay_log)
    check("the relay bounced nothing", "status=bounced" not in logged and "non-delivery notification" not in logged)

    if FAILURES:
        print("%d check(s) failed: %s" % (len(FAILURES), ", ".join(FAILURES)))
        return 1
    print("all verify checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
