# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SASL part of the health check: which Dovecot sockets smtpd uses, and whether one answers."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _postfix_health as health
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_host import LocalHost

# What Dovecot 2.3's auth service sends a new client (doveadm auth test shows the same lines).
HANDSHAKE = ('VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t4242\nCUID\t1\n'
             'COOKIE\t0123456789abcdef0123456789abcdef\nDONE\n')
BASE = {'smtpd_sasl_auth_enable': 'yes', 'smtpd_sasl_type': 'dovecot',
        'smtpd_sasl_path': '/run/dovecot-postfix-s/auth-postfix', 'queue_directory': '/var/spool/postfix-s'}


def test_main_cf_socket_is_found():
    assert health.dovecot_sasl_sockets(BASE, {}) == [('main_cf', '/run/dovecot-postfix-s/auth-postfix')]


def test_relative_path_is_under_the_queue_directory():
    base = dict(BASE, smtpd_sasl_path='private/auth')
    assert health.dovecot_sasl_sockets(base, {}) == [('main_cf', '/var/spool/postfix-s/private/auth')]


@pytest.mark.parametrize('base', [
    dict(BASE, smtpd_sasl_auth_enable='no'),
    dict(BASE, smtpd_sasl_type='cyrus'),
    {k: v for k, v in BASE.items() if k != 'smtpd_sasl_type'},   # Postfix's default type is cyrus
    dict(BASE, smtpd_sasl_path='inet:auth.example.org:12345'),
])
def test_no_local_dovecot_socket_to_prove(base):
    assert health.dovecot_sasl_sockets(base, {}) == []


def test_master_cf_override_enables_sasl_on_one_service():
    base = dict(BASE, smtpd_sasl_auth_enable='no')
    overrides = {('submission', 'inet'): {'smtpd_sasl_auth_enable': 'yes', 'smtpd_sasl_path': '/run/d/auth'},
                 ('smtp', 'inet'): {'smtpd_tls_security_level': 'may'}}
    assert health.dovecot_sasl_sockets(base, overrides) == [('master_cf submission/inet', '/run/d/auth')]


def test_one_socket_named_twice_is_proved_once():
    overrides = {('submission', 'inet'): {'smtpd_sasl_auth_enable': 'yes'}}
    assert health.dovecot_sasl_sockets(BASE, overrides) == [('main_cf', '/run/dovecot-postfix-s/auth-postfix')]


def test_a_dovecot_handshake_passes():
    assert health.auth_handshake_problem(HANDSHAKE) is None


@pytest.mark.parametrize('reply, problem', [
    ('', 'it sent nothing'),
    ('220 mail.example.org ESMTP\n', 'does not speak the Dovecot auth protocol 1'),
    ('VERSION\t2\t0\nDONE\n', 'does not speak the Dovecot auth protocol 1'),
    ('VERSION\t1\t2\nMECH\tPLAIN\n', 'did not end with DONE'),
    ('VERSION\t1\t2\nSPID\t1\nDONE\n', 'offers no authentication mechanism'),
])
def test_other_replies_are_refused_with_the_reason(reply, problem):
    assert problem in health.auth_handshake_problem(reply)


def _serve_once(path, reply):
    """A unix listener that reads the client's hello and answers ``reply`` (stands in for Dovecot's wire side)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    received = []

    def answer():
        conn, _addr = server.accept()
        with conn:
            received.append(conn.recv(4096))
            conn.sendall(reply.encode('ascii'))
        server.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread, received


def test_the_host_reads_the_handshake_and_says_hello_as_a_client(tmp_path):
    path = str(tmp_path / 'auth')
    thread, received = _serve_once(path, HANDSHAKE)
    reply, error = LocalHost.dovecot_auth_handshake(path)
    thread.join(5)
    assert error is None
    assert health.auth_handshake_problem(reply) is None
    assert received[0].startswith(b'VERSION\t1\t') and b'\nCPID\t%d\n' % os.getpid() in received[0]


def test_the_host_names_a_missing_or_dead_socket(tmp_path):
    assert LocalHost.dovecot_auth_handshake(str(tmp_path / 'nowhere'))[1] == 'No such file or directory'
    stale = str(tmp_path / 'stale')
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(stale)   # bound, never listening: what a crashed server leaves behind
    try:
        assert LocalHost.dovecot_auth_handshake(stale)[1] == 'Connection refused'
    finally:
        dead.close()


class FakeHost:
    """postconf answers and a socket that answers ``reply`` or fails with ``error``."""

    def __init__(self, base, reply='', error=None):
        self.base = base
        self.reply = reply
        self.error = error
        self.asked = []
        self.slept = 0

    @staticmethod
    def command(name):
        return '/usr/sbin/' + name

    def run(self, argv):
        if '-P' in argv:
            return 0, '', ''
        return 0, ''.join('%s = %s\n' % item for item in self.base.items()), ''

    def dovecot_auth_handshake(self, path):
        self.asked.append(path)
        return self.reply, self.error

    def sleep(self, seconds):
        self.slept += 1


def test_sasl_problems_empty_when_dovecot_answers():
    host = FakeHost(BASE, reply=HANDSHAKE)
    assert health.sasl_problems(host, '/etc/postfix-s') == []
    assert host.asked == ['/run/dovecot-postfix-s/auth-postfix']


def test_sasl_problems_name_the_parameter_the_socket_and_the_cause_after_bounded_retries():
    host = FakeHost(BASE, error='Connection refused')
    problems = health.sasl_problems(host, '/etc/postfix-s')
    assert problems == ['main_cf smtpd_sasl_path: the Dovecot authentication service at /run/dovecot-postfix-s/auth-postfix '
                        'does not answer: Connection refused (no user could authenticate)']
    assert len(host.asked) == health.HEALTH_WAIT[1]
