# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import smtplib
import socket
import time

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _smtp_capture as capture

TOKENS = ["relayaudit-abc123-001", "relayaudit-abc123-002", "relayaudit-abc123-010"]
IDS = ["<%s@relay-audit.invalid>" % t for t in TOKENS]


def probe_copy(token, mail_from="a@example.net"):
    """A relayed copy of a probe as a next hop would pass it on."""
    body = ("Received: from relay.own.example\r\nMessage-ID: <%s@relay-audit.invalid>\r\n"
            "Subject: relay-audit probe %s (percent-hack)\r\n\r\nrelay-audit probe %s\r\n" % (token, token, token))
    return capture.Arrival("127.0.3.25", "nexthop", mail_from, ["%s@example.net" % token], body.encode(), False, 0)


def dsn(token):
    body = (
        "From: MAILER-DAEMON@relay.own.example (Mail Delivery System)\r\n"
        "Message-ID: <20240101.ABCDEF@relay.own.example>\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Final-Recipient: rfc822; %s%%example.net@other.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <%s@relay-audit.invalid>\r\n--b--\r\n" % (token, token))
    return capture.Arrival("127.0.3.24", "relay", "", ["relay-audit@example.net"], body.encode(), False, 0)


# --- attribution --------------------------------------------------------------

def test_relayed_copy_is_attributed_to_its_token_only():
    kind, found = capture.attribute(probe_copy(TOKENS[0]), TOKENS, IDS)
    assert (kind, found) == (capture.RELAY, [TOKENS[0]])


def test_token_match_ignores_case():
    arrival = probe_copy(TOKENS[1])
    arrival.rcpt_to = [TOKENS[1].upper() + "@EXAMPLE.NET"]
    arrival.data = arrival.data.upper()
    assert capture.attribute(arrival, TOKENS, IDS) == (capture.RELAY, [TOKENS[1]])


def test_dsn_is_a_bounce_not_a_relay():
    kind, found = capture.attribute(dsn(TOKENS[2]), TOKENS, IDS)
    assert (kind, found) == (capture.BOUNCE, [TOKENS[2]])


def test_relayed_null_sender_probe_stays_a_relay():
    # The null-sender case relays with MAIL FROM:<>; its own Message-ID tells it from a DSN.
    assert capture.attribute(probe_copy(TOKENS[0], mail_from=""), TOKENS, IDS)[0] == capture.RELAY


def test_null_sender_without_probe_id_is_a_bounce():
    arrival = capture.Arrival("x", "h", "", ["relay-audit@example.net"],
                              ("Subject: failure notice\r\n\r\nyour message to %s@example.net failed\r\n"
                               % TOKENS[0]).encode(), False, 0)
    assert capture.attribute(arrival, TOKENS, IDS) == (capture.BOUNCE, [TOKENS[0]])


def test_auto_submitted_notice_is_a_bounce():
    arrival = capture.Arrival("x", "h", "postmaster@own.example", ["relay-audit@example.net"],
                              ("Auto-Submitted: auto-generated\r\nSubject: delay\r\n\r\n%s\r\n" % TOKENS[0]).encode(),
                              False, 0)
    assert capture.attribute(arrival, TOKENS, IDS)[0] == capture.BOUNCE


def test_arrival_without_token_is_unattributed():
    arrival = capture.Arrival("x", "h", "someone@example.org", ["x@example.net"], b"Subject: hi\r\n\r\nhello\r\n",
                              False, 0)
    assert capture.attribute(arrival, TOKENS, IDS) == (None, [])


def test_token_is_not_confused_with_a_longer_one():
    # relayaudit-abc123-001 must not match inside relayaudit-abc123-0010 (fixed width makes this impossible).
    assert capture.attribute(probe_copy(TOKENS[2]), TOKENS, IDS)[1] == [TOKENS[2]]


@pytest.mark.parametrize("argument, address", [
    ("FROM:<a@b.example> SIZE=100", "a@b.example"),
    ("FROM:<>", ""),
    ("TO:<\"x@y\"@z>", "\"x@y\"@z"),
    ("TO: bare@example.net", "bare@example.net"),
    ("TO:<@a,@b:c@d>", "@a,@b:c@d"),
])
def test_envelope_address(argument, address):
    assert capture.envelope_address(argument) == address


# --- the listener -------------------------------------------------------------

@pytest.fixture
def listener():
    started = []

    def start(**kwargs):
        item = capture.CaptureListener("127.0.0.1", 0, **kwargs).start()
        started.append(item)
        return item
    yield start
    for item in started:
        item.stop()


def send(address, mail_from, rcpts, message):
    with smtplib.SMTP(address[0], address[1], timeout=5) as client:
        client.ehlo("sender.example")
        client.sendmail(mail_from, rcpts, message)


def test_listener_records_envelope_and_content(listener):
    item = listener()
    send(item.address, "a@example.net", ["relayaudit-abc123-001@example.net", "b@example.net"],
         b"Subject: probe\r\n\r\n.leading dot\r\nbody\r\n")
    arrivals = item.arrivals()
    assert len(arrivals) == 1
    arrival = arrivals[0]
    assert arrival.peer == "127.0.0.1"
    assert arrival.helo == "sender.example"
    assert arrival.mail_from == "a@example.net"
    assert arrival.rcpt_to == ["relayaudit-abc123-001@example.net", "b@example.net"]
    assert b".leading dot\r\nbody\r\n" in arrival.data
    summary = arrival.summary(capture.RELAY)
    assert summary["subject"] == "probe" and summary["kind"] == "relay"


def test_listener_attributes_each_arrival_to_its_case(listener):
    item = listener()
    for token in TOKENS[:2]:
        send(item.address, "a@example.net", ["%s@example.net" % token],
             ("Message-ID: <%s@relay-audit.invalid>\r\n\r\nx\r\n" % token).encode())
    found = [capture.attribute(a, TOKENS, IDS) for a in item.arrivals()]
    assert found == [(capture.RELAY, [TOKENS[0]]), (capture.RELAY, [TOKENS[1]])]


def test_listener_keeps_sessions_apart_and_resets(listener):
    item = listener()
    with smtplib.SMTP(item.address[0], item.address[1], timeout=5) as client:
        client.ehlo("x")
        client.mail("first@example.net")
        client.rcpt("one@example.net")
        client.rset()
        assert client.docmd("DATA")[0] == 503
        client.sendmail("second@example.net", ["two@example.net"], b"\r\nbody\r\n")
        assert client.docmd("VRFY", "x")[0] == 252
        assert client.docmd("STARTTLS")[0] == 502
    assert [a.mail_from for a in item.arrivals()] == ["second@example.net"]


def test_listener_bounds_message_size_and_count(listener):
    item = listener(max_message_bytes=100, max_arrivals=1)
    send(item.address, "a@b.example", ["c@d.example"], b"Subject: big\r\n\r\n" + b"x" * 500 + b"\r\n")
    arrival = item.arrivals()[0]
    assert arrival.truncated and len(arrival.data) <= 100
    with pytest.raises(smtplib.SMTPDataError) as info:
        send(item.address, "a@b.example", ["c@d.example"], b"\r\nsecond\r\n")
    assert info.value.smtp_code == 452
    assert len(item.arrivals()) == 1


def test_listener_rcpt_policy(listener):
    item = listener(rcpt_policy=lambda rcpt: "550 5.1.1 no" if rcpt.startswith("bad") else "250 ok")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(item.address, "a@b.example", ["bad@d.example"], b"\r\nx\r\n")
    send(item.address, "a@b.example", ["bad@d.example", "good@d.example"], b"\r\nx\r\n")
    assert item.arrivals()[0].rcpt_to == ["good@d.example"]


def test_listener_drops_idle_sessions(listener):
    item = listener(session_timeout=0.3)
    sock = socket.create_connection(item.address, timeout=5)
    assert sock.recv(100).startswith(b"220")
    assert sock.recv(100).startswith(b"421 4.4.2 idle")
    assert sock.recv(100) == b""  # closed by the listener, not by us
    sock.close()


def test_listener_refuses_endless_command_lines(listener):
    item = listener()
    sock = socket.create_connection(item.address, timeout=5)
    sock.recv(100)
    sock.sendall(b"EHLO " + b"x" * (capture.MAX_COMMAND_LINE + 10) + b"\r\n")
    assert sock.recv(100).startswith(b"500")
    sock.close()


def test_wait_until_is_bounded_and_wakes_on_arrival(listener):
    item = listener()
    started = time.monotonic()
    assert item.wait_until(bool, time.monotonic() + 0.3) is False
    assert 0.25 <= time.monotonic() - started < 2
    send(item.address, "a@b.example", ["c@d.example"], b"\r\nx\r\n")
    assert item.wait_until(bool, time.monotonic() + 5) is True


def test_listener_reports_a_busy_port():
    first = capture.CaptureListener("127.0.0.1", 0).start()
    try:
        with pytest.raises(capture.CaptureError, match="cannot listen"):
            capture.CaptureListener("127.0.0.1", first.address[1]).start()
    finally:
        first.stop()


def test_stop_is_idempotent_and_frees_the_port():
    item = capture.CaptureListener("127.0.0.1", 0).start()
    port = item.address[1]
    item.stop()
    item.stop()
    with capture.CaptureListener("127.0.0.1", port) as again:
        assert again.address[1] == port


# --- bounds a flooding client cannot stretch ------------------------------------

def read_until_closed(sock, limit=1 << 20):
    """Everything the listener sends until it closes the connection."""
    data = b""
    while len(data) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    raise AssertionError("the listener kept sending")


def test_sessions_over_the_cap_are_refused_and_closed(listener):
    item = listener(max_sessions=3)
    held = [socket.create_connection(item.address, timeout=5) for _slot in range(3)]
    for sock in held:
        assert sock.recv(100).startswith(b"220")
    extra = socket.create_connection(item.address, timeout=5)
    assert read_until_closed(extra).startswith(b"421 4.3.2")
    extra.close()
    assert item.open_sessions() == 3
    # A slot freed is a slot available again.
    held.pop().close()
    for _attempt in range(50):
        if item.open_sessions() < 3:
            break
        time.sleep(0.1)
    again = socket.create_connection(item.address, timeout=5)
    assert again.recv(100).startswith(b"220")
    for sock in held + [again]:
        sock.close()


def test_a_session_ends_after_max_commands(listener):
    item = listener(max_commands=5)
    sock = socket.create_connection(item.address, timeout=5)
    sock.recv(100)
    sock.sendall(b"NOOP\r\n" * 100)
    replies = read_until_closed(sock).decode().splitlines()
    assert replies[:5] == ["250 2.0.0 Ok"] * 5
    assert replies[5].startswith("421 4.7.0 too many commands") and len(replies) == 6
    sock.close()


def test_a_trickling_client_is_cut_at_the_session_time_limit(listener):
    # It never stays idle long enough for the idle timeout, and never finishes a line.
    item = listener(session_timeout=5, max_session_seconds=1)
    sock = socket.create_connection(item.address, timeout=10)
    sock.recv(100)
    received = b""
    for _byte in range(100):
        try:
            sock.sendall(b"N")
        except OSError:
            break
        sock.settimeout(0.2)
        try:
            chunk = sock.recv(100)
        except socket.timeout:
            continue
        received += chunk
        if not chunk or b"\n" in received:
            break
    assert received.startswith(b"421 4.4.2 session time limit")
    sock.close()


def test_stop_ends_open_sessions(listener):
    item = listener()
    socks = [socket.create_connection(item.address, timeout=5) for _slot in range(5)]
    for sock in socks:
        sock.recv(100)
    socks[0].sendall(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n")
    item.stop()
    assert item.open_sessions() == 0
    for sock in socks:
        read_until_closed(sock)  # returns: the listener closed every session
        sock.close()
