# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in SMTP servers for the relay_audit unit tests (module_utils and module).

A stand-in is a CaptureListener with an RCPT policy: a closed one accepts
only the own-domain recipient, an open one accepts every recipient.
"""
from __future__ import annotations

import socket

from ansible_collections.mailrelay.smtp.plugins.module_utils._smtp_capture import CaptureListener


def closed_policy(rcpt):
    # Plain postmaster too (RFC 5321 4.5.1).
    return "250 2.1.5 Ok" if rcpt in ("postmaster@own.example", "postmaster") else "554 5.7.1 Relay access denied"


def open_policy(rcpt):
    return "250 2.1.5 Ok"


def start_stand_in(policy):
    """A running stand-in on a free loopback port; the caller stops it."""
    return CaptureListener("127.0.0.1", 0, hostname="mx.own.example", rcpt_policy=policy).start()


def free_port():
    """A loopback port that nothing listens on (at the time of the call)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
