# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small SMTP client that sends commands verbatim and records a transcript.

smtplib re-quotes addresses in ``mail()``/``rcpt()``, which would turn the
address tricks of a relay audit (``<@a:user@b>``, ``"user@foreign"@own``,
``RCPT TO:user@b`` without brackets) into something else. This client sends
each command line exactly as given, parses replies strictly (RFC 5321 4.2),
speaks STARTTLS and implicit TLS, and keeps a transcript in which
credentials are redacted.

Stdlib only, Python 3.8+: it runs on whatever host probes the server.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import time

# Bounds that keep a hostile or broken server from holding the probe.
MAX_LINE_BYTES = 4096
MAX_REPLY_LINES = 200

REDACTED = "<redacted>"


class SmtpProbeError(Exception):
    """The session could not go on: network, TLS or protocol failure."""


class SmtpProtocolError(SmtpProbeError):
    """The server sent something that is not a valid SMTP reply."""


class SmtpReply(object):
    """One (possibly multi-line) reply: a three-digit code and its text lines."""

    __slots__ = ("code", "lines")

    def __init__(self, code, lines):
        self.code = code
        self.lines = list(lines)

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def positive(self):
        """2xx or 3xx: the server went along with the command."""
        return 200 <= self.code < 400

    @property
    def transient(self):
        return 400 <= self.code < 500

    @property
    def permanent(self):
        return 500 <= self.code < 600

    def as_dict(self):
        return {"code": self.code, "text": self.text}

    def __repr__(self):
        return "SmtpReply(%d, %r)" % (self.code, self.lines)


def parse_reply(lines):
    """Turn the raw lines of one reply into an SmtpReply.

    ``lines`` are str without line ends. Every line must start with the same
    three digits, all but the last followed by ``-``, the last by a space or
    nothing (RFC 5321 4.2.1).
    """
    if not lines:
        raise SmtpProtocolError("empty reply")
    code_text = None
    texts = []
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        if len(line) < 3 or not line[:3].isdigit():
            raise SmtpProtocolError("reply line without a code: %r" % line[:80])
        if code_text is None:
            code_text = line[:3]
        elif line[:3] != code_text:
            raise SmtpProtocolError("reply code changes inside a reply: %r" % line[:80])
        separator = line[3:4]
        if last and separator not in ("", " "):
            raise SmtpProtocolError("last reply line must not continue: %r" % line[:80])
        if not last and separator != "-":
            raise SmtpProtocolError("continuation line without '-': %r" % line[:80])
        texts.append(line[4:])
    code = int(code_text)
    if not 200 <= code < 600:
        raise SmtpProtocolError("reply code out of range: %d" % code)
    return SmtpReply(code, texts)


class ReplyReader(object):
    """Splits a byte stream into SMTP replies (incrementally, for any chunking)."""

    def __init__(self):
        self._buffer = b""
        self._pending = []

    def feed(self, data):
        """Add received bytes; return the replies they completed."""
        self._buffer += data
        replies = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE_BYTES:
                    raise SmtpProtocolError("reply line longer than %d bytes" % MAX_LINE_BYTES)
                break
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1:]
            if len(raw) > MAX_LINE_BYTES:
                raise SmtpProtocolError("reply line longer than %d bytes" % MAX_LINE_BYTES)
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            self._pending.append(line)
            if len(self._pending) > MAX_REPLY_LINES:
                raise SmtpProtocolError("reply longer than %d lines" % MAX_REPLY_LINES)
            if line[3:4] != "-":
                replies.append(parse_reply(self._pending))
                self._pending = []
        return replies

    @property
    def idle(self):
        """No partial reply is buffered."""
        return not self._buffer and not self._pending


def parse_ehlo(reply):
    """Map an EHLO reply to {KEYWORD: parameters} (keywords upper-cased).

    The first line is the server's name and greeting, not an extension.
    """
    extensions = {}
    for line in reply.lines[1:]:
        parts = line.strip().split(None, 1)
        if not parts:
            continue
        extensions[parts[0].upper()] = parts[1] if len(parts) > 1 else ""
    return extensions


def ehlo_server_name(reply):
    """The domain the server names in the first EHLO/greeting line, or None."""
    if not reply.lines:
        return None
    parts = reply.lines[0].split()
    return parts[0] if parts else None


def auth_mechanisms(extensions):
    """Upper-cased SASL mechanisms offered in an EHLO reply."""
    return [mech.upper() for mech in extensions.get("AUTH", "").split()]


def auth_plain_payload(username, password):
    """The RFC 4616 initial response for AUTH PLAIN (no authorisation id)."""
    raw = b"\0" + username.encode("utf-8") + b"\0" + password.encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def dot_stuff(message):
    """Message bytes ready for DATA: CRLF line ends, leading dots doubled, final dot."""
    text = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = text.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    stuffed = [b"." + line if line.startswith(b".") else line for line in lines]
    return b"\r\n".join(stuffed) + b"\r\n.\r\n"


def make_tls_context(verify, ca_path=None):
    """A client context: verified against ``ca_path`` (file or dir) or the system store, or not at all."""
    if verify:
        context = ssl.create_default_context()
        if ca_path:
            if os.path.isdir(ca_path):
                context.load_verify_locations(capath=ca_path)
            else:
                context.load_verify_locations(cafile=ca_path)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SmtpSession(object):
    """One SMTP connection whose every command and reply lands in ``transcript``.

    ``transcript`` is a list of ("C", line) and ("S", SmtpReply) pairs in
    order. Lines are sent as given (plus CRLF); a line containing CR or LF is
    refused, so that no case can smuggle a second command.
    """

    def __init__(self, host, port, timeout=10.0, source_address=None):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.source_address = source_address
        self.transcript = []
        self.extensions = {}
        self.tls_active = False
        self.tls_version = None
        self.peer_address = None
        self._sock = None
        self._reader = ReplyReader()
        self._replies = []

    # -- connection ------------------------------------------------------
    def connect(self, tls_context=None, server_hostname=None):
        """Open the connection (TLS from the start when a context is given); return the greeting."""
        source = (self.source_address, 0) if self.source_address else None
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout,
                                            source_address=source)
        except OSError as exc:
            raise SmtpProbeError("cannot connect to %s:%s: %s" % (self.host, self.port, exc))
        self._sock = sock
        try:
            self.peer_address = sock.getpeername()[0]
            if tls_context is not None:
                self._wrap_tls(tls_context, server_hostname)
        except SmtpProbeError:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise SmtpProbeError("connection to %s:%s failed: %s" % (self.host, self.port, exc))
        return self._read_reply()

    def _wrap_tls(self, context, server_hostname):
        name = server_hostname or self.host
        try:
            self._sock = context.wrap_socket(self._sock, server_hostname=name)
        except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
            raise SmtpProbeError("TLS handshake with %s:%s failed: %s" % (self.host, self.port, exc))
        self._sock.settimeout(self.timeout)
        self.tls_active = True
        self.tls_version = self._sock.version()
        # Nothing read before the handshake may be trusted afterwards (RFC 3207 6).
        self._reader = ReplyReader()
        self._replies = []

    def close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None

    @property
    def connected(self):
        return self._sock is not None

    # -- raw I/O ---------------------------------------------------------
    def _send_raw(self, data):
        if self._sock is None:
            raise SmtpProbeError("not connected")
        try:
            self._sock.sendall(data)
        except OSError as exc:
            self.close()
            raise SmtpProbeError("send to %s:%s failed: %s" % (self.host, self.port, exc))

    def _read_reply(self):
        # One deadline for the whole reply: a server that trickles bytes must not
        # hold the probe longer than ``timeout`` either.
        deadline = time.monotonic() + self.timeout
        while not self._replies:
            if self._sock is None:
                raise SmtpProbeError("not connected")
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise socket.timeout()  # the deadline passed between two chunks
                self._sock.settimeout(remaining)
                chunk = self._sock.recv(4096)
            except socket.timeout:
                self.close()
                raise SmtpProbeError("no reply from %s:%s within %ss" % (self.host, self.port, self.timeout))
            except OSError as exc:
                self.close()
                raise SmtpProbeError("receive from %s:%s failed: %s" % (self.host, self.port, exc))
            finally:
                if self._sock is not None:
                    self._sock.settimeout(self.timeout)
            if not chunk:
                self.close()
                raise SmtpProbeError("%s:%s closed the connection" % (self.host, self.port))
            try:
                self._replies.extend(self._reader.feed(chunk))
            except SmtpProtocolError:
                self.close()
                raise
        reply = self._replies.pop(0)
        self.transcript.append(("S", reply))
        return reply

    # -- commands --------------------------------------------------------
    def command(self, line, shown=None):
        """Send one command line verbatim and return the reply.

        ``shown`` replaces the line in the transcript (for credentials).
        """
        if "\r" in line or "\n" in line:
            raise ValueError("an SMTP command line must not contain CR or LF: %r" % line)
        self.transcript.append(("C", shown if shown is not None else line))
        self._send_raw(line.encode("utf-8") + b"\r\n")
        return self._read_reply()

    def ehlo(self, name):
        """EHLO, falling back to HELO when EHLO is refused; remembers the extensions."""
        reply = self.command("EHLO %s" % name)
        if reply.code == 250:
            self.extensions = parse_ehlo(reply)
            return reply
        if reply.permanent:
            helo = self.command("HELO %s" % name)
            self.extensions = {}
            return helo
        return reply

    def starttls(self, context, server_hostname=None):
        """STARTTLS; on 220 the socket is wrapped (errors raise SmtpProbeError)."""
        reply = self.command("STARTTLS")
        if reply.code == 220:
            self._wrap_tls(context, server_hostname)
            self.extensions = {}
        return reply

    def auth(self, username, password, mechanism="PLAIN"):
        """Authenticate with PLAIN (initial response) or LOGIN; secrets never reach the transcript."""
        mechanism = mechanism.upper()
        if mechanism == "PLAIN":
            return self.command("AUTH PLAIN %s" % auth_plain_payload(username, password),
                                shown="AUTH PLAIN %s" % REDACTED)
        if mechanism == "LOGIN":
            reply = self.command("AUTH LOGIN")
            if reply.code != 334:
                return reply
            reply = self.command(base64.b64encode(username.encode("utf-8")).decode("ascii"), shown=REDACTED)
            if reply.code != 334:
                return reply
            return self.command(base64.b64encode(password.encode("utf-8")).decode("ascii"), shown=REDACTED)
        raise ValueError("unsupported SASL mechanism %s" % mechanism)

    def data(self, message, shown):
        """DATA with ``message`` (bytes); returns (reply to DATA, final reply or None)."""
        reply = self.command("DATA")
        if reply.code != 354:
            return reply, None
        self.transcript.append(("C", shown))
        self._send_raw(dot_stuff(message))
        return reply, self._read_reply()

    def quit(self):
        """QUIT that never raises: the case is over either way."""
        if self._sock is None:
            return
        try:
            self.command("QUIT")
        except SmtpProbeError:
            pass
        finally:
            self.close()

    # -- transcript views ------------------------------------------------
    def sent_lines(self):
        return [item for kind, item in self.transcript if kind == "C"]

    def reply_dicts(self):
        return [item.as_dict() for kind, item in self.transcript if kind == "S"]

    def transcript_lines(self):
        """The transcript as text: ``C: line`` and ``S: 250 text`` (one per reply line)."""
        out = []
        for kind, item in self.transcript:
            if kind == "C":
                out.append("C: %s" % item)
            else:
                lines = item.lines or [""]
                for index, line in enumerate(lines):
                    separator = "-" if index < len(lines) - 1 else " "
                    out.append("S: %03d%s%s" % (item.code, separator, line))
        return out
