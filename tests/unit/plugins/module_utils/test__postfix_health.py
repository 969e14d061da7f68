# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Health rules: listening sockets, port owners, certificate pairs, previous files."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _postfix_engine as engine
from ansible_collections.mailrelay.smtp.plugins.module_utils import _postfix_health as health
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_host import LocalHost

PROC_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0B07007F:09C5 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0 100 0 0 10 0
   1: 00000000:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0 100 0 0 10 0
   2: 0B07007F:0019 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0 100 0 0 10 0
"""
PROC_TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:024B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0 100 0 0 10 0
"""
MASTER = 'smtp inet n - n - - smtpd\n2525 inet n - n - - smtpd\n'


def run_command(argv, data=None, environ_update=None):
    process = subprocess.run(argv, input=data, capture_output=True, text=True, check=False)
    return process.returncode, process.stdout, process.stderr


def test_proc_net_tcp_lists_listeners_only():
    assert health.parse_proc_net_tcp(PROC_TCP) == [('127.0.7.11', 2501, 1001), ('0.0.0.0', 25, 1002)]
    assert health.parse_proc_net_tcp(PROC_TCP6) == [('::1', 587, 2001)]
    assert health.parse_proc_net_tcp('') == []


@pytest.mark.parametrize('endpoint, inodes', [
    (('127.0.7.11', 2501), [1001]),
    (('127.0.7.12', 25), [1002]),        # the wildcard listener takes every address
    (('127.0.7.11', 587), []),
    (('*', 2501), [1001]),               # inet_interfaces = all clashes with any address
])
def test_holders(endpoint, inodes):
    listening = health.parse_proc_net_tcp(PROC_TCP)
    assert health.holders(endpoint, listening) == inodes


class FakeSockets:
    """Listening sockets and their owners as a test sets them (the rest as LocalHost)."""

    def __init__(self, listening, owners):
        self._listening = listening
        self._owners = owners
        self.port_number = LocalHost.port_number
        self.resolve = LocalHost.resolve

    def listening_sockets(self):
        return self._listening

    def socket_owners(self, inodes):
        return dict((inode, self._owners.get(inode, [])) for inode in inodes)


def test_port_taken_by_another_process_names_service_endpoint_and_process():
    host = FakeSockets([('127.0.7.11', 2525, 7)], {7: [(4242, 'nc')]})
    problems = health.port_problems(host, 'inet_interfaces = 127.0.7.11\n', MASTER, own_master_pid=100)
    assert problems == ['master_cf 2525/inet: 127.0.7.11:2525 is in use by another process (nc, pid 4242)']


def test_port_held_by_own_master_is_ours():
    host = FakeSockets([('127.0.7.11', 25, 7), ('127.0.7.11', 2525, 8)], {7: [(100, 'master')], 8: [(100, 'master'), (101, 'smtpd')]})
    assert health.port_problems(host, 'inet_interfaces = 127.0.7.11\n', MASTER, own_master_pid=100) == []
    # The same sockets block a new instance (no master of its own).
    assert len(health.port_problems(host, 'inet_interfaces = 127.0.7.11\n', MASTER, own_master_pid=None)) == 2


def test_disabled_inet_services_need_no_port():
    host = FakeSockets([('0.0.0.0', 25, 7)], {7: [(1, 'exim')]})
    assert health.port_problems(host, 'master_service_disable = inet\n', MASTER, None) == []


def test_stale_listeners_are_own_sockets_no_longer_declared():
    host = FakeSockets([('127.0.7.11', 25, 7), ('127.0.7.11', 2527, 8), ('127.0.7.11', 2600, 9)],
                       {7: [(100, 'master')], 8: [(100, 'master')], 9: [(5, 'other')]})
    assert health.stale_listeners(host, [('127.0.7.11', 25)], 100) == [('127.0.7.11', 2527)]
    assert health.stale_listeners(host, [('*', 25), ('*', 2527)], 100) == []
    assert health.stale_listeners(host, [], None) == []


def test_tls_pairs_key_defaults_to_certificate_file():
    pairs = health.tls_pairs({'smtpd_tls_cert_file': '/c.pem', 'smtp_tls_cert_file': '/d.pem', 'smtp_tls_key_file': '/k.pem'})
    assert pairs == [('smtpd_tls_cert_file', '/c.pem', 'smtpd_tls_key_file', '/c.pem'),
                     ('smtp_tls_cert_file', '/d.pem', 'smtp_tls_key_file', '/k.pem')]


@pytest.fixture(scope='module')
def certificates(tmp_path_factory):
    directory = tmp_path_factory.mktemp('tls')

    def openssl(*args):
        subprocess.run(['openssl'] + list(args), check=True, capture_output=True)

    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=t', '-days', '2',
            '-keyout', str(directory / 'good.key'), '-out', str(directory / 'good.crt'))
    openssl('genrsa', '-out', str(directory / 'other.key'), '2048')
    # Expired: OpenSSL 3.4+ (Debian 13) takes explicit dates and refuses a negative -days; 3.0 (Debian 12) the opposite.
    try:
        openssl('req', '-x509', '-key', str(directory / 'good.key'), '-subj', '/CN=t', '-not_before', '20200101000000Z',
                '-not_after', '20200102000000Z', '-out', str(directory / 'expired.crt'))
    except subprocess.CalledProcessError:
        openssl('x509', '-in', str(directory / 'good.crt'), '-signkey', str(directory / 'good.key'), '-days', '-1',
                '-out', str(directory / 'expired.crt'))
    openssl('rsa', '-in', str(directory / 'good.key'), '-aes256', '-passout', 'pass:x', '-out', str(directory / 'locked.key'))
    (directory / 'garbage.key').write_text('no key here\n')
    return directory


@pytest.mark.parametrize('cert, key, expected', [
    ('good.crt', 'good.key', None),
    ('good.crt', 'other.key', 'does not match the certificate'),
    ('good.crt', 'locked.key', 'is protected by a passphrase'),
    ('good.crt', 'garbage.key', 'cannot load the certificate'),
    ('good.crt', 'missing.key', 'cannot read the key'),
])
def test_tls_pair_problem(certificates, cert, key, expected):
    problem = LocalHost.tls_pair_problem(str(certificates / cert), str(certificates / key))
    if expected is None:
        assert problem is None
    else:
        assert expected in problem


def test_tls_problems_name_both_parameters_and_expiry(certificates):
    host = LocalHost(run_command)
    params = {'smtpd_tls_cert_file': str(certificates / 'good.crt'), 'smtpd_tls_key_file': str(certificates / 'other.key')}
    [problem] = health.tls_problems(params, host)
    assert problem.startswith('main_cf.smtpd_tls_cert_file / main_cf.smtpd_tls_key_file: the key ')
    params = {'smtpd_tls_cert_file': str(certificates / 'expired.crt'), 'smtpd_tls_key_file': str(certificates / 'good.key')}
    [problem] = health.tls_problems(params, host, where_format='master_cf 587/inet -o %s')
    assert problem.startswith('master_cf 587/inet -o smtpd_tls_cert_file: certificate ')
    assert 'expired on' in problem
    assert health.tls_problems({'smtpd_tls_cert_file': str(certificates / 'good.crt'),
                                'smtpd_tls_key_file': str(certificates / 'good.key')}, host) == []


def test_smtp_session_against_a_listener_that_never_greets():
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    try:
        result = LocalHost.smtp_session('127.0.0.1', listener.getsockname()[1], timeout=0.5)
    finally:
        listener.close()
    assert result['greeting'] == ''
    assert result['error'].startswith('no greeting')


def test_smtp_session_waits_for_the_rest_of_a_postscreen_greeting():
    """postscreen sends "220-" at once and the last greeting line after its greet wait."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    commands = []

    def serve():
        connection, _peer = listener.accept()
        with connection:
            connection.sendall(b'220-mx.example.org ESMTP\r\n')
            time.sleep(1.0)  # longer than the session's own timeout below
            connection.sendall(b'220 mx.example.org ESMTP\r\n')
            commands.append(connection.makefile('rb').readline())

    server = threading.Thread(target=serve)
    server.start()
    try:
        result = LocalHost.smtp_session('127.0.0.1', listener.getsockname()[1], timeout=0.5)
    finally:
        server.join(5)
        listener.close()
    assert result['error'] is None and result['greeting'] == '220-mx.example.org ESMTP'
    assert commands == [b'QUIT\r\n']


def test_smtp_session_with_implicit_tls_greets_through_the_handshake(certificates):
    """A wrapper-mode listener (465): TLS first, then the greeting, and the presented certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certificates / 'good.crt'), str(certificates / 'good.key'))
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    commands = []

    def serve():
        connection, _peer = listener.accept()
        with context.wrap_socket(connection, server_side=True) as tls:
            tls.sendall(b'220 smtp.example.org ESMTP\r\n')
            commands.append(tls.makefile('rb').readline())

    server = threading.Thread(target=serve)
    server.start()
    try:
        result = LocalHost.smtp_session('127.0.0.1', listener.getsockname()[1], timeout=2, implicit_tls=True)
    finally:
        server.join(5)
        listener.close()
    assert result['error'] is None and result['greeting'] == '220 smtp.example.org ESMTP'
    assert result['peer_certificate'] == LocalHost.certificate_der(str(certificates / 'good.crt'))
    assert commands == [b'QUIT\r\n']
    # A plain listener where implicit TLS is expected: no handshake, said so.
    plain = socket.socket()
    plain.bind(('127.0.0.1', 0))
    plain.listen(1)
    try:
        refused = LocalHost.smtp_session('127.0.0.1', plain.getsockname()[1], timeout=0.5, implicit_tls=True)
    finally:
        plain.close()
    assert refused['error'].startswith('no TLS handshake')


@pytest.mark.parametrize('greeting, expected', [
    ('220 mx.example.org ESMTP', True), ('220-mx.example.org ESMTP', True),
    ('220 other.example.org ESMTP', False), ('421 mx.example.org busy', False), ('220mx.example.org', False),
])
def test_a_greeting_counts_in_its_single_and_multi_line_form(greeting, expected):
    assert health._greets_as(greeting, 'mx.example.org ESMTP') is expected


def test_smtp_session_refused():
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    assert LocalHost.smtp_session('127.0.0.1', port, timeout=0.5)['error']


def test_certificate_der_reads_the_first_certificate(certificates):
    der = LocalHost.certificate_der(str(certificates / 'good.crt'))
    assert der == ssl.PEM_cert_to_DER_cert((certificates / 'good.crt').read_text())
    assert LocalHost.certificate_der(str(certificates / 'garbage.key')) is None


def test_previous_files_are_kept_once_and_restored_exactly(tmp_path):
    host = LocalHost(run_command)
    config = tmp_path / 'etc'
    config.mkdir()
    main = config / 'main.cf'
    main.write_bytes(b'a = 1\n\xff\n')
    os.chmod(main, 0o640)
    # First commit: main.cf replaced, transport created.
    backup = tmp_path / 'backup-1'
    os.link(main, backup)
    os.unlink(main)
    main.write_text('a = 2\n')
    (config / 'transport').write_text('x y\n')
    engine.keep_previous(host, str(config), [(str(main), str(backup)), (str(config / 'transport'), None)])
    # Second commit before any reload: the older copy is what the master runs.
    backup2 = tmp_path / 'backup-2'
    os.link(main, backup2)
    os.unlink(main)
    main.write_text('a = 3\n')
    engine.keep_previous(host, str(config), [(str(main), str(backup2))])
    assert engine.has_previous(host, str(config))
    restored = engine.restore_previous(host, str(config))
    assert sorted(restored) == [str(main), str(config / 'transport')]
    assert main.read_bytes() == b'a = 1\n\xff\n'
    assert os.stat(main).st_mode & 0o777 == 0o640
    assert not (config / 'transport').exists()
    assert not engine.has_previous(host, str(config))
    assert sorted(os.listdir(config)) == ['main.cf']
