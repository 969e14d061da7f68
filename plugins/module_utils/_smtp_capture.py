# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A bounded SMTP listener that records what the audited servers pass on.

In a lab, the topology's upstream smart host points at this listener: it
plays "the rest of the Internet". Whatever an audited server relays ends up
here, so a relay attempt that was accepted at RCPT can be judged by what
actually arrives. Every probe carries a unique token (recipient local part,
Message-ID, subject, body); ``attribute`` maps each arrival to the tokens it
mentions and tells relayed copies from bounces (DSNs).

The listener accepts every message (250) so that no server retries, keeps
at most ``max_arrivals`` messages of at most ``max_message_bytes`` each,
and bounds what any client can take: ``max_sessions`` sessions at once
(more are told 421 and closed), ``max_commands`` commands and
``max_session_seconds`` seconds per session, ``session_timeout`` idle
seconds. ``stop()`` ends the sessions still open, so a flooding client
cannot keep an audit from finishing. Stdlib only, threads, Python 3.8+.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import email
import email.policy
import socket
import socketserver
import threading
import time

MAX_COMMAND_LINE = 2048
MAX_DATA_LINE = 65536

RELAY = "relay"
BOUNCE = "bounce"


class CaptureError(Exception):
    """The listener could not start."""


class Arrival(object):
    """One message as received: envelope, raw content and where it came from."""

    def __init__(self, peer, helo, mail_from, rcpt_to, data, truncated, received_at):
        self.peer = peer
        self.helo = helo
        self.mail_from = mail_from
        self.rcpt_to = list(rcpt_to)
        self.data = data
        self.truncated = truncated
        self.received_at = received_at

    def headers(self):
        """Top-level headers of the message (parsing never raises)."""
        return email.message_from_bytes(self.data, policy=email.policy.compat32)

    def summary(self, kind=None):
        message = self.headers()
        return {
            "kind": kind,
            "peer": self.peer,
            "helo": self.helo,
            "mail_from": self.mail_from,
            "rcpt_to": list(self.rcpt_to),
            "message_id": (message.get("Message-ID") or "").strip(),
            "subject": (message.get("Subject") or "").strip(),
            "size": len(self.data),
            "truncated": self.truncated,
        }


def envelope_address(argument):
    """The address inside ``FROM:<...>``/``TO:<...>`` (parameters dropped), as sent."""
    text = argument.split(":", 1)[1].strip() if ":" in argument else argument.strip()
    if text.startswith("<"):
        end = text.rfind(">")
        return text[1:end] if end > 0 else text[1:]
    return text.split(" ", 1)[0]


def is_delivery_report(arrival, probe_message_ids):
    """A bounce/DSN rather than a relayed copy of a probe.

    A relayed copy keeps the probe's own Message-ID even when its envelope
    sender is null (the null-sender case); a report has its own Message-ID
    and is a multipart/report, or comes from the null sender, or says it is
    auto-generated.
    """
    message = arrival.headers()
    message_id = (message.get("Message-ID") or "").strip().lower()
    if message_id and message_id in probe_message_ids:
        return False
    content_type = (message.get_content_type() or "").lower()
    if content_type == "multipart/report":
        return True
    if arrival.mail_from == "":
        return True
    auto = (message.get("Auto-Submitted") or "").strip().lower()
    return auto.startswith("auto-")


def attribute(arrival, tokens, probe_message_ids):
    """(kind, tokens found): kind is RELAY, BOUNCE or None (mentions no token)."""
    haystack = "\n".join([arrival.mail_from] + arrival.rcpt_to).lower() + "\n" + \
        arrival.data.decode("latin-1").lower()
    found = sorted(token for token in tokens if token.lower() in haystack)
    if not found:
        return None, []
    ids = set(m.lower() for m in probe_message_ids)
    return (BOUNCE if is_delivery_report(arrival, ids) else RELAY), found


class _SessionOver(Exception):
    """The session must end now (peer gone, idle, or over a bound)."""

    def __init__(self, reply=None):
        Exception.__init__(self, reply)
        self.reply = reply


class _CaptureHandler(socketserver.BaseRequestHandler):
    """One SMTP session: accept everything, record each message, within the listener's bounds.

    Every read and write waits at most until the session's deadline (and at most
    ``session_timeout`` for the next bytes), so neither a silent nor a trickling nor a
    flooding client holds a session longer than ``max_session_seconds``.
    """

    def setup(self):
        listener = self.server.listener
        self.deadline = time.monotonic() + listener.max_session_seconds
        self.buffer = b""
        self.commands = 0
        listener._session_started(self.request)

    def finish(self):
        self.server.listener._session_ended(self.request)

    def _wait_budget(self):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _SessionOver("421 4.4.2 session time limit reached")
        return min(remaining, self.server.listener.session_timeout)

    def _reply(self, text):
        self.request.settimeout(self._wait_budget())
        self.request.sendall(text.encode("ascii", "replace") + b"\r\n")

    def _readline(self, limit):
        """Up to ``limit`` bytes ending at the first LF (fewer only when the line is longer); b"" at EOF."""
        while True:
            end = self.buffer.find(b"\n", 0, limit)
            if end >= 0 or len(self.buffer) >= limit:
                cut = end + 1 if end >= 0 else limit
                line, self.buffer = self.buffer[:cut], self.buffer[cut:]
                return line
            self.request.settimeout(self._wait_budget())
            try:
                chunk = self.request.recv(65536)
            except socket.timeout:
                if time.monotonic() >= self.deadline:
                    raise _SessionOver("421 4.4.2 session time limit reached")
                raise _SessionOver("421 4.4.2 idle too long")
            if not chunk:
                line, self.buffer = self.buffer, b""
                return line
            self.buffer += chunk

    def _command(self):
        line = self._readline(MAX_COMMAND_LINE + 1)
        if len(line) > MAX_COMMAND_LINE:
            raise _SessionOver("500 5.5.2 line too long")
        if not line:
            raise _SessionOver()
        self.commands += 1
        if self.commands > self.server.listener.max_commands:
            raise _SessionOver("421 4.7.0 too many commands in one session")
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def handle(self):
        try:
            self._session()
        except _SessionOver as over:
            if over.reply and not over.reply.startswith("421 4.4.2 idle"):
                self.server.listener._count("cut_sessions")
            if over.reply:
                try:
                    self.deadline = max(self.deadline, time.monotonic() + 1)
                    self._reply(over.reply)
                except (OSError, _SessionOver):
                    pass
        except OSError:
            pass

    def _session(self):
        listener = self.server.listener
        peer = self.client_address[0]
        helo = ""
        mail_from = None
        rcpts = []
        self._reply("220 %s ESMTP relay-audit capture" % listener.hostname)
        while True:
            text = self._command()
            verb = text.split(" ", 1)[0].upper()
            if verb == "EHLO":
                helo = text[5:].strip()
                self._reply("250-%s" % listener.hostname)
                self._reply("250-8BITMIME")
                self._reply("250 SIZE %d" % listener.max_message_bytes)
            elif verb == "HELO":
                helo = text[5:].strip()
                self._reply("250 %s" % listener.hostname)
            elif verb == "MAIL":
                mail_from = envelope_address(text[4:])
                rcpts = []
                self._reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                if mail_from is None:
                    self._reply("503 5.5.1 MAIL first")
                    continue
                rcpt = envelope_address(text[4:])
                code_text = listener.rcpt_policy(rcpt) if listener.rcpt_policy else "250 2.1.5 Ok"
                if code_text.startswith("2"):
                    rcpts.append(rcpt)
                self._reply(code_text)
            elif verb == "DATA":
                if mail_from is None or not rcpts:
                    self._reply("503 5.5.1 RCPT first")
                    continue
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                data, truncated = self._read_data(listener.max_message_bytes)
                if data is None:
                    return
                stored = listener.record(Arrival(peer, helo, mail_from, rcpts, data, truncated, time.time()))
                self._reply("250 2.0.0 Ok: captured" if stored else "452 4.3.1 capture full")
                mail_from = None
                rcpts = []
            elif verb == "RSET":
                mail_from = None
                rcpts = []
                self._reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self._reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self._reply("221 2.0.0 Bye")
                return
            elif verb == "VRFY":
                self._reply("252 2.0.0 Send some mail")
            else:
                self._reply("502 5.5.2 Command not implemented")

    def _read_data(self, limit):
        chunks = []
        size = 0
        truncated = False
        while True:
            line = self._readline(MAX_DATA_LINE)
            if not line:
                return None, truncated
            if line in (b".\r\n", b".\n"):
                return b"".join(chunks), truncated
            if line.startswith(b".."):
                line = line[1:]
            if size + len(line) > limit:
                truncated = True
                continue
            chunks.append(line)
            size += len(line)


class _CaptureServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Connections over the session cap are answered (421) by the accepting thread, not refused by the kernel.
    request_queue_size = 128

    def __init__(self, address, listener):
        self.listener = listener
        socketserver.TCPServer.__init__(self, address, _CaptureHandler)

    def verify_request(self, request, client_address):
        # Runs in the accepting thread, one connection at a time: the count cannot race.
        if self.listener._admit(request):
            return True
        self.listener._count("refused_sessions")
        try:
            request.settimeout(0.5)
            request.sendall(b"421 4.3.2 too many sessions, try again later\r\n")
        except OSError:
            pass
        return False


class CaptureListener(object):
    """Start with ``start()``, read ``arrivals()``, always ``stop()`` (or use ``with``)."""

    def __init__(self, host, port, hostname="relay-audit-capture.invalid", max_message_bytes=1048576,
                 max_arrivals=1000, session_timeout=30.0, rcpt_policy=None, max_sessions=50,
                 max_commands=1000, max_session_seconds=120.0):
        self.host = host
        self.port = port
        self.hostname = hostname
        self.max_message_bytes = max_message_bytes
        self.max_arrivals = max_arrivals
        # Idle seconds before a session is dropped, and the bounds no client can stretch:
        # sessions at once, commands per session, seconds per session.
        self.session_timeout = session_timeout
        self.max_sessions = max_sessions
        self.max_commands = max_commands
        self.max_session_seconds = max_session_seconds
        self._sessions = {}  # socket -> handler thread
        self._sessions_lock = threading.Lock()
        # Sessions refused over max_sessions, and cut over max_commands or max_session_seconds:
        # while either is non-zero, a copy that did not arrive may have been kept out.
        self.refused_sessions = 0
        self.cut_sessions = 0
        # Optional callable(address) -> "code text" for each RCPT (default: accept).
        self.rcpt_policy = rcpt_policy
        self._arrivals = []
        self._condition = threading.Condition()
        self._server = None
        self._thread = None

    @property
    def address(self):
        """(host, port) actually bound (port 0 picks a free one)."""
        return self._server.server_address[:2] if self._server else (self.host, self.port)

    def start(self):
        try:
            self._server = _CaptureServer((self.host, self.port), self)
        except OSError as exc:
            raise CaptureError("cannot listen on %s:%s: %s" % (self.host, self.port, exc))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="relay-audit-capture")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self, timeout=5.0):
        """Stop accepting, end every open session, and wait (bounded) for their threads."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._sessions_lock:
            sessions = list(self._sessions.items())
        for sock, _thread in sessions:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for _sock, thread in sessions:
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        self._server = None
        self._thread = None

    def open_sessions(self):
        """Number of sessions currently open."""
        with self._sessions_lock:
            return len(self._sessions)

    def _admit(self, sock):
        with self._sessions_lock:
            if len(self._sessions) >= self.max_sessions:
                return False
            self._sessions[sock] = None
            return True

    def _count(self, counter):
        with self._sessions_lock:
            setattr(self, counter, getattr(self, counter) + 1)

    def _session_started(self, sock):
        with self._sessions_lock:
            self._sessions[sock] = threading.current_thread()

    def _session_ended(self, sock):
        with self._sessions_lock:
            self._sessions.pop(sock, None)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def record(self, arrival):
        with self._condition:
            if len(self._arrivals) >= self.max_arrivals:
                return False
            self._arrivals.append(arrival)
            self._condition.notify_all()
            return True

    def arrivals(self):
        with self._condition:
            return list(self._arrivals)

    def wait_until(self, predicate, deadline, clock=time.monotonic):
        """Wait until ``predicate(arrivals)`` is true or the monotonic ``deadline`` passes."""
        with self._condition:
            while True:
                if predicate(list(self._arrivals)):
                    return True
                remaining = deadline - clock()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.5))
