# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import base64
import socket
import threading

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _smtp_probe as probe


# --- reply parsing ----------------------------------------------------------

def test_parse_single_line_reply():
    reply = probe.parse_reply(["250 2.1.5 Ok"])
    assert reply.code == 250
    assert reply.text == "2.1.5 Ok"
    assert reply.positive and not reply.transient and not reply.permanent


def test_parse_multi_line_reply_keeps_every_line():
    reply = probe.parse_reply(["250-mx.example", "250-PIPELINING", "250 AUTH PLAIN LOGIN"])
    assert reply.lines == ["mx.example", "PIPELINING", "AUTH PLAIN LOGIN"]
    assert reply.as_dict() == {"code": 250, "text": "mx.example\nPIPELINING\nAUTH PLAIN LOGIN"}


def test_parse_bare_code_is_a_complete_reply():
    reply = probe.parse_reply(["354"])
    assert reply.code == 354 and reply.lines == [""]


@pytest.mark.parametrize("lines, message", [
    ([], "empty"),
    (["hello"], "without a code"),
    (["250-first", "251 second"], "code changes"),
    (["250-first"], "must not continue"),
    (["250 first", "250 second"], "continuation line"),
    (["250xtext"], "must not continue"),
    (["199 too low"], "out of range"),
])
def test_parse_rejects_malformed_replies(lines, message):
    with pytest.raises(probe.SmtpProtocolError, match=message):
        probe.parse_reply(lines)


def test_reply_classes():
    assert probe.parse_reply(["451 4.3.0 try later"]).transient
    assert probe.parse_reply(["554 5.7.1 Relay access denied"]).permanent
    assert probe.parse_reply(["334 "]).positive


def test_reader_assembles_replies_from_any_chunking():
    stream = b"220 mx ESMTP\r\n250-mx\r\n250-STARTTLS\r\n250 8BITMIME\r\n554 5.7.1 no\r\n"
    reader = probe.ReplyReader()
    replies = []
    for index in range(len(stream)):
        replies.extend(reader.feed(stream[index:index + 1]))
    assert [r.code for r in replies] == [220, 250, 554]
    assert replies[1].lines == ["mx", "STARTTLS", "8BITMIME"]
    assert reader.idle


def test_reader_accepts_bare_lf_line_ends():
    replies = probe.ReplyReader().feed(b"250-a\n250 b\n")
    assert replies[0].lines == ["a", "b"]


def test_reader_keeps_partial_reply_pending():
    reader = probe.ReplyReader()
    assert reader.feed(b"250-mx\r\n250 PIPE") == []
    assert not reader.idle
    assert reader.feed(b"LINING\r\n")[0].lines == ["mx", "PIPELINING"]


def test_reader_refuses_endless_lines_and_replies():
    with pytest.raises(probe.SmtpProtocolError, match="longer than"):
        probe.ReplyReader().feed(b"250 " + b"x" * (probe.MAX_LINE_BYTES + 10))
    with pytest.raises(probe.SmtpProtocolError, match="lines"):
        probe.ReplyReader().feed(b"250-x\r\n" * (probe.MAX_REPLY_LINES + 1))


def test_parse_ehlo_extensions_and_name():
    reply = probe.parse_reply(["250-mx.example.com Hello", "250-STARTTLS", "250-auth PLAIN LOGIN", "250 SIZE 1000"])
    extensions = probe.parse_ehlo(reply)
    assert extensions == {"STARTTLS": "", "AUTH": "PLAIN LOGIN", "SIZE": "1000"}
    assert probe.auth_mechanisms(extensions) == ["PLAIN", "LOGIN"]
    assert probe.ehlo_server_name(reply) == "mx.example.com"
    assert probe.auth_mechanisms({}) == []


def test_auth_plain_payload_follows_rfc4616():
    decoded = base64.b64decode(probe.auth_plain_payload("alice@example.com", "s3cret"))
    assert decoded == b"\0alice@example.com\0s3cret"


def test_dot_stuff_doubles_leading_dots_and_terminates():
    assert probe.dot_stuff(b"a\n.b\n..c\n") == b"a\r\n..b\r\n...c\r\n.\r\n"
    assert probe.dot_stuff(b"x\r\ny") == b"x\r\ny\r\n.\r\n"


# --- sessions against a scripted server ------------------------------------

class ScriptedServer(object):
    """A one-connection SMTP server that answers each line from a script and records what it got."""

    def __init__(self, greeting, answers):
        self.greeting = greeting
        self.answers = answers  # function(line) -> reply bytes (or None to close)
        self.received = []
        self.peer = None
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve)
        self.thread.daemon = True
        self.thread.start()

    def _serve(self):
        conn, addr = self.sock.accept()
        self.peer = addr[0]
        conn.settimeout(5)
        with conn:
            conn.sendall(self.greeting)
            buffer = b""
            while True:
                try:
                    chunk = conn.recv(4096)
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while b"\r\n" in buffer:
                    line, buffer = buffer.split(b"\r\n", 1)
                    self.received.append(line)
                    answer = self.answers(line)
                    if answer is None:
                        return
                    conn.sendall(answer)

    def close(self):
        self.thread.join(5)
        self.sock.close()


def simple_answers(line):
    verb = line.split(b" ", 1)[0].upper()
    if verb == b"EHLO":
        return b"250-test.example\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
    if verb == b"QUIT":
        return b"221 bye\r\n"
    if line.startswith(b"RCPT"):
        return b"554 5.7.1 Relay access denied\r\n"
    if verb == b"AUTH":
        return b"535 5.7.8 no\r\n"
    return b"250 ok\r\n"


@pytest.fixture
def server():
    servers = []

    def start(greeting=b"220 test.example ESMTP\r\n", answers=simple_answers):
        srv = ScriptedServer(greeting, answers)
        servers.append(srv)
        return srv
    yield start
    for srv in servers:
        srv.close()


def test_session_sends_trick_addresses_verbatim(server):
    srv = server()
    session = probe.SmtpSession("127.0.0.1", srv.port, timeout=5)
    assert session.connect().code == 220
    session.ehlo("probe.example.net")
    session.command("MAIL FROM:<>")
    tricks = ['<"user@foreign.example"@own.example>', "<@own.example,@mx:user@foreign.example>",
              "user@foreign.example", "<foreign.example!user@own.example>", "<user\\@f@own>"]
    for trick in tricks:
        assert session.command("RCPT TO:%s" % trick).code == 554
    session.quit()
    srv.close()
    assert srv.received[2:2 + len(tricks)] == [("RCPT TO:%s" % t).encode() for t in tricks]
    assert session.extensions["AUTH"] == "PLAIN LOGIN"
    assert not session.connected


def test_session_refuses_to_smuggle_a_second_command(server):
    srv = server()
    session = probe.SmtpSession("127.0.0.1", srv.port, timeout=5)
    session.connect()
    with pytest.raises(ValueError):
        session.command("RCPT TO:<a@b>\r\nRCPT TO:<c@d>")
    session.quit()


def test_transcript_redacts_credentials(server):
    srv = server()
    session = probe.SmtpSession("127.0.0.1", srv.port, timeout=5)
    session.connect()
    session.ehlo("probe")
    assert session.auth("alice", "s3cret", "PLAIN").code == 535
    session.quit()
    srv.close()
    assert "AUTH PLAIN <redacted>" in session.sent_lines()
    text = "\n".join(session.transcript_lines())
    assert "s3cret" not in text and probe.auth_plain_payload("alice", "s3cret") not in text
    # The server did get the real payload.
    assert srv.received[1] == ("AUTH PLAIN %s" % probe.auth_plain_payload("alice", "s3cret")).encode()
    assert session.transcript_lines()[:3] == ["S: 220 test.example ESMTP", "C: EHLO probe", "S: 250-test.example"]


def test_auth_login_redacts_both_steps(server):
    def answers(line):
        if line == b"AUTH LOGIN":
            return b"334 VXNlcm5hbWU6\r\n"
        if line.startswith(b"QUIT"):
            return b"221 bye\r\n"
        if line == base64.b64encode(b"alice"):
            return b"334 UGFzc3dvcmQ6\r\n"
        return b"235 2.7.0 ok\r\n"
    srv = server(answers=answers)
    session = probe.SmtpSession("127.0.0.1", srv.port, timeout=5)
    session.connect()
    assert session.auth("alice", "pw", "LOGIN").code == 235
    assert session.sent_lines() == ["AUTH LOGIN", "<redacted>", "<redacted>"]
    session.quit()


def test_data_dot_stuffs_and_records_a_placeholder(server):
    state = {"data": False}

    def answers(line):
        if state["data"]:
            if line == b".":
                state["data"] = False
                return b"250 queued\r\n"
            return b""
        if line == b"DATA":
            state["data"] = True
            return b"354 go ahead\r\n"
        if line == b"QUIT":
            return b"221 bye\r\n"
        return b"250 ok\r\n"
    srv = server(answers=answers)
    session = probe.SmtpSession("127.0.0.1", srv.port, timeout=5)
    session.connect()
    session.command("MAIL FROM:<a@b>")
    session.command("RCPT TO:<c@d>")
    data_reply, final = session.data(b"Subject: x\r\n\r\n.hidden\r\n", shown="<message>")
    assert (data_reply.code, final.code) == (354, 250)
    session.quit()
    srv.close()
    assert srv.received[3:7] == [b"Subject: x", b"", b"..hidden", b"."]
    assert session.sent_lines() == ["MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA", "<message>", "QUIT"]


def test_ehlo_falls_back_to_helo(server):
    def answers(line):
        if line.startswith(b"EHLO"):
            return b"502 5.5.2 no ESMTP\r\n"
        return b"250 hi\r\n" if line.startswith(b"HELO") else b"221 bye\r\n"
    srv = server(answers=answers)
    session = probe.SmtpSession("127.0.0.1", srv.port, timeout=5)
    session.connect()
    assert session.ehlo("probe").code == 250
    assert session.sent_lines() == ["EHLO probe", "HELO probe"]
    assert session.extensions == {}
    session.quit()


def test_connection_errors_become_probe_errors():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(probe.SmtpProbeError, match="cannot connect"):
        probe.SmtpSession("127.0.0.1", port, timeout=2).connect()


def test_silent_server_times_out(server):
    srv = server(greeting=b"")
    session = probe.SmtpSession("127.0.0.1", srv.port, timeout=0.3)
    with pytest.raises(probe.SmtpProbeError, match="no reply"):
        session.connect()
    assert not session.connected


def test_trickling_server_cannot_stretch_the_reply_timeout():
    # A reply that never completes, one continuation line at a time: each line
    # comes well within the timeout, but the reply as a whole must not.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    done = threading.Event()

    def trickle():
        conn, _addr = listener.accept()
        with conn:
            for _line in range(100):
                if done.wait(0.05):
                    return
                try:
                    conn.sendall(b"220-still greeting\r\n")
                except OSError:
                    return
    thread = threading.Thread(target=trickle)
    thread.daemon = True
    thread.start()
    session = probe.SmtpSession("127.0.0.1", listener.getsockname()[1], timeout=0.5)
    try:
        with pytest.raises(probe.SmtpProbeError, match="no reply .* within 0.5s"):
            session.connect()
        assert not session.connected
    finally:
        done.set()
        thread.join(5)
        listener.close()


def test_server_closing_mid_session_is_reported(server):
    srv = server(answers=lambda line: None)
    session = probe.SmtpSession("127.0.0.1", srv.port, timeout=5)
    session.connect()
    with pytest.raises(probe.SmtpProbeError, match="closed the connection"):
        session.command("MAIL FROM:<a@b>")


def test_source_address_is_used(server):
    srv = server(answers=lambda line: b"221 bye\r\n")
    session = probe.SmtpSession("127.0.0.1", srv.port, timeout=5, source_address="127.0.0.2")
    session.connect()
    session.quit()
    srv.close()
    assert srv.peer == "127.0.0.2"


def test_tls_context_modes(tmp_path):
    import ssl
    loose = probe.make_tls_context(False)
    assert loose.verify_mode == ssl.CERT_NONE and not loose.check_hostname
    strict = probe.make_tls_context(True)
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    with pytest.raises((ssl.SSLError, OSError)):
        (tmp_path / "bad.pem").write_text("not a certificate")
        probe.make_tls_context(True, str(tmp_path / "bad.pem"))
