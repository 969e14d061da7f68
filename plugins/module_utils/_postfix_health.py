# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Is a Postfix instance serving? Checks before a change and proof after it.

Private to the collection. Before anything changes: every address and port
the new configuration listens on is free or held by this instance's own
master(8), and every certificate/key pair matches, is readable and is not
expired. After a start, reload or restart: the master runs, every listener
accepts a TCP connection, greets as this Postfix (its own smtpd_banner) and,
where TLS is offered, completes STARTTLS with the configured certificate.

The rules here are pure; what they need from the host comes from the
``host`` argument (see _postfix_host.LocalHost).
"""

from __future__ import annotations

import ipaddress

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import MainCf
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_master import MasterCf
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_validate import (
    ANY_ADDRESS,
    listen_endpoints,
    parse_postconf,
    parse_postconf_services,
)

# TCP state LISTEN in /proc/net/tcp and tcp6.
LISTEN_STATE = '0A'
WILDCARDS = ('0.0.0.0', '::')
# Certificate/key parameter pairs Postfix loads (server and client side).
TLS_PAIRS = (
    ('smtpd_tls_cert_file', 'smtpd_tls_key_file'),
    ('smtpd_tls_eccert_file', 'smtpd_tls_eckey_file'),
    ('smtpd_tls_dcert_file', 'smtpd_tls_dkey_file'),
    ('smtp_tls_cert_file', 'smtp_tls_key_file'),
    ('smtp_tls_eccert_file', 'smtp_tls_eckey_file'),
    ('smtp_tls_dcert_file', 'smtp_tls_dkey_file'),
)
TLS_OFFERED_LEVELS = ('may', 'encrypt')
HEALTH_WAIT = (0.2, 25)   # poll interval (s), attempts per listener: at most about 5 s
# smtpd greets only after looking up the client's name: with a slow or unreachable DNS that takes
# the resolver's timeouts (5 s, twice, by default), so the health check waits longer than that.
GREETING_TIMEOUT = 20.0


class ServiceFailed(Exception):
    """The instance does not serve after a change; ``rolled_back`` tells what was put back."""

    def __init__(self, message, rollback_failed=False):
        super().__init__(message)
        self.rollback_failed = rollback_failed


# ---------------------------------------------------------------------------
# Listening sockets (pure parsing of /proc/net/tcp and tcp6)
# ---------------------------------------------------------------------------

def _proc_address(text):
    """Address of a /proc/net/tcp(6) hex field (host byte order per 32-bit word)."""
    raw = bytes.fromhex(text)
    words = [raw[index:index + 4][::-1] for index in range(0, len(raw), 4)]
    return str(ipaddress.ip_address(b''.join(words)))


def parse_proc_net_tcp(text):
    """``[(address, port, inode)]`` of the LISTEN sockets in /proc/net/tcp or tcp6 text."""
    sockets = []
    for line in (text or '').splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != LISTEN_STATE:
            continue
        address, _sep, port = fields[1].partition(':')
        try:
            sockets.append((_proc_address(address), int(port, 16), int(fields[9])))
        except ValueError:
            continue
    return sockets


def _covers(listening_address, address):
    """True when a socket bound to ``listening_address`` takes connections for ``address``."""
    if listening_address == address or listening_address in WILDCARDS or address == ANY_ADDRESS:
        return True
    mapped = ipaddress.ip_address(listening_address)
    return getattr(mapped, 'ipv4_mapped', None) is not None and str(mapped.ipv4_mapped) == address


def holders(endpoint, listening):
    """Inodes of the listening sockets that take connections for ``endpoint``."""
    address, port = endpoint
    return [inode for other, other_port, inode in listening if other_port == port and _covers(other, address)]


def describe_endpoint(endpoint):
    address, port = endpoint
    if address == ANY_ADDRESS:
        return 'port %d on every address' % port
    return '[%s]:%d' % (address, port) if ':' in address else '%s:%d' % (address, port)


def _owner_text(owners):
    if not owners:
        return 'a process this module cannot see'
    return ', '.join('%s, pid %d' % (command, pid) for pid, command in owners)


# ---------------------------------------------------------------------------
# Listeners a configuration declares
# ---------------------------------------------------------------------------

def service_endpoints(main_text, master_text, port_number, resolve):
    """``[(service label, (address, port))]`` of the inet services, in master.cf order."""
    params = MainCf(main_text or '').parameters()
    result = []
    for service in MasterCf(master_text or '').services:
        for endpoint in sorted(listen_endpoints(params, [service], port_number, resolve)):
            result.append((service.label, endpoint))
    return result


def port_problems(host, main_text, master_text, own_master_pid):
    """Problems: listen endpoints of the new configuration that another process holds.

    A socket held by this instance's running master (``own_master_pid``) is
    ours: a reload keeps it. Anything else makes Postfix fail to start or
    kills its master on reload.
    """
    endpoints = service_endpoints(main_text, master_text, host.port_number, host.resolve)
    if not endpoints:
        return []
    listening = host.listening_sockets()
    problems = []
    taken = {}
    for label, endpoint in endpoints:
        inodes = holders(endpoint, listening)
        if inodes:
            taken[(label, endpoint)] = inodes
    if not taken:
        return []
    owners = host.socket_owners(set(inode for inodes in taken.values() for inode in inodes))
    for (label, endpoint), inodes in taken.items():
        processes = []
        for inode in inodes:
            processes.extend(owners.get(inode, []))
        if own_master_pid and any(pid == own_master_pid for pid, _command in processes):
            continue
        problems.append('master_cf %s: %s is in use by another process (%s)' % (
            label, describe_endpoint(endpoint), _owner_text(sorted(set(processes)))))
    return sorted(problems)


# ---------------------------------------------------------------------------
# Certificates and keys (before anything changes)
# ---------------------------------------------------------------------------

def tls_pairs(params):
    """``[(cert parameter, cert, key parameter, key)]`` set in ``params``.

    An unset key parameter means the key is in the certificate file.
    """
    pairs = []
    for cert_name, key_name in TLS_PAIRS:
        cert = (params.get(cert_name) or '').strip()
        if not cert:
            continue
        key = (params.get(key_name) or '').strip() or cert
        pairs.append((cert_name, cert, key_name, key))
    return pairs


def tls_problems(params, host, where_format='main_cf.%s', checked=None):
    """Problems with the certificate/key pairs of one set of expanded parameters.

    Each pair must load (the key readable, not protected by a passphrase and
    matching the certificate: Postfix loads it as root at start and every
    STARTTLS fails otherwise), and the certificate must not be expired.
    ``checked`` collects pairs already looked at, so that each is looked at once.
    """
    problems = []
    for cert_name, cert, key_name, key in tls_pairs(params):
        if not cert.startswith('/') or not key.startswith('/'):
            continue
        if not (host.exists(cert) and host.exists(key)):
            continue   # reported as a missing file by the generic check
        if checked is not None:
            if (cert, key) in checked:
                continue
            checked.add((cert, key))
        problem = host.tls_pair_problem(cert, key)
        if problem:
            problems.append('%s / %s: %s' % (where_format % cert_name, where_format % key_name, problem))
            continue
        expired = host.certificate_expired(cert)
        if expired:
            problems.append('%s: certificate %s %s' % (where_format % cert_name, cert, expired))
    return problems


# ---------------------------------------------------------------------------
# Proof that an instance serves (after a change)
# ---------------------------------------------------------------------------

class Listener:
    """One listener to prove: where, what greeting, whether STARTTLS is offered and with which certificate."""

    def __init__(self, label, endpoint, banner, tls_cert, implicit_tls=False):
        self.label = label
        self.endpoint = endpoint
        self.banner = banner
        self.tls_cert = tls_cert
        self.implicit_tls = implicit_tls

    @property
    def connect_address(self):
        address = self.endpoint[0]
        return '127.0.0.1' if address == ANY_ADDRESS else address


def expected_listeners(host, config_dir, main_text, master_text):
    """The listeners an instance's configuration declares, with its expanded banner and TLS settings."""
    postconf = host.command('postconf')
    rc, out, _err = host.run([postconf, '-c', config_dir, '-x', 'smtpd_banner',
                              'smtpd_tls_security_level', 'smtpd_tls_cert_file', 'smtpd_use_tls', 'smtpd_tls_wrappermode'])
    base = parse_postconf(out) if rc == 0 else {}
    rc, out, _err = host.run([postconf, '-c', config_dir, '-P', '-x'])
    overrides = parse_postconf_services(out) if rc == 0 else {}
    listeners = []
    for label, endpoint in service_endpoints(main_text, master_text, host.port_number, host.resolve):
        service, _slash, service_type = label.rpartition('/')
        params = dict(base)
        params.update(overrides.get((service, service_type), {}))
        level = (params.get('smtpd_tls_security_level') or '').lower()
        if not level and (params.get('smtpd_use_tls') or '').lower() == 'yes':
            level = 'may'
        cert = params.get('smtpd_tls_cert_file') or ''
        tls_cert = cert if level in TLS_OFFERED_LEVELS and cert.startswith('/') else None
        implicit_tls = (params.get('smtpd_tls_wrappermode') or '').lower() == 'yes'
        if implicit_tls and cert.startswith('/'):
            tls_cert = cert
        listeners.append(Listener(label, endpoint, params.get('smtpd_banner') or '', tls_cert, implicit_tls))
    return listeners


def _greets_as(greeting, expected):
    """Whether the first greeting line is ``220`` with ``expected``: ``220 `` or, from postscreen, ``220-``."""
    return greeting[:3] == '220' and greeting[3:4] in (' ', '-') and greeting[4:].startswith(expected)


def listener_problem(host, listener, own_master_pid):
    """None when ``listener`` greets as this Postfix (and completes STARTTLS); otherwise why not."""
    interval, attempts = HEALTH_WAIT
    result = None
    expected = listener.banner.splitlines()[0].strip() if listener.banner else ''
    for attempt in range(attempts):
        result = host.smtp_session(listener.connect_address, listener.endpoint[1], listener.tls_cert is not None,
                                   timeout=GREETING_TIMEOUT, implicit_tls=listener.implicit_tls)
        if not result.get('error') and _greets_as(result.get('greeting', ''), expected):
            break
        # A listener that accepts but stays silent is asked twice, not for every attempt.
        if attempt and (result.get('error') or '').startswith('no greeting'):
            break
        host.sleep(interval)
    where = 'master_cf %s: %s' % (listener.label, describe_endpoint(listener.endpoint))
    greeting = result.get('greeting') or ''
    if result.get('error') or not _greets_as(greeting, expected):
        inodes = holders(listener.endpoint, host.listening_sockets())
        owners = host.socket_owners(set(inodes))
        processes = sorted(set(process for inode in inodes for process in owners.get(inode, [])))
        if processes and not any(pid == own_master_pid for pid, _command in processes):
            return '%s is in use by another process (%s)' % (where, _owner_text(processes))
        if result.get('error'):
            return '%s does not answer: %s' % (where, result['error'])
        return '%s answers with %r, not with the greeting of this Postfix (%r)' % (where, greeting, '220 ' + expected)
    if listener.tls_cert:
        if result.get('tls_error'):
            return '%s: STARTTLS fails: %s' % (where, result['tls_error'])
        wanted = host.certificate_der(listener.tls_cert)
        if wanted and result.get('peer_certificate') != wanted:
            return '%s: STARTTLS presents another certificate than %s' % (where, listener.tls_cert)
    return None


def serving_problems(host, instance, own_master_pid):
    """Every reason why ``instance`` (a _postmulti.Instance) does not serve as configured."""
    if not own_master_pid:
        return ['%s: the master process does not run' % instance.name]
    master_text = host.read(instance.config_dir + '/master.cf') or ''
    main_text = host.read(instance.config_dir + '/main.cf') or ''
    problems = []
    for listener in expected_listeners(host, instance.config_dir, main_text, master_text):
        problem = listener_problem(host, listener, own_master_pid)
        if problem:
            problems.append(problem)
    if 'smtpd_sasl' in main_text or 'smtpd_sasl' in master_text:
        problems.extend(sasl_problems(host, instance.config_dir))
    return problems


# ---------------------------------------------------------------------------
# SASL: Dovecot's authentication service answers where smtpd asks it
# ---------------------------------------------------------------------------

SASL_PARAMETERS = ('smtpd_sasl_auth_enable', 'smtpd_sasl_type', 'smtpd_sasl_path', 'queue_directory')


def dovecot_sasl_sockets(base, overrides):
    """``[(where, socket_path)]`` of the Dovecot sockets smtpd authenticates through.

    ``base``: main.cf values of SASL_PARAMETERS (``postconf -x``); ``overrides``:
    ``{(service, type): {name: value}}`` of master.cf ``-o`` options. A relative
    ``smtpd_sasl_path`` is relative to the queue directory (smtpd's working
    directory). Cyrus SASL (``smtpd_sasl_type = cyrus``) runs inside smtpd: no socket.
    """
    found = []
    settings = [('main_cf', base)] + [
        ('master_cf %s/%s' % key, dict(base, **values)) for key, values in sorted(overrides.items())
        if any(name.startswith('smtpd_sasl_') for name in values)]
    for where, params in settings:
        if (params.get('smtpd_sasl_auth_enable') or '').lower() != 'yes':
            continue
        if (params.get('smtpd_sasl_type') or 'cyrus').lower() != 'dovecot':
            continue
        path = params.get('smtpd_sasl_path') or ''
        if path.startswith('inet:'):
            continue   # a TCP auth service elsewhere: not this host's to prove
        if not path.startswith('/'):
            path = (params.get('queue_directory') or '').rstrip('/') + '/' + path
        if path not in [known for _where, known in found]:
            found.append((where, path))
    return found


def auth_handshake_problem(reply):
    """None when ``reply`` is the server handshake of Dovecot's auth protocol 1 offering a mechanism; else why not.

    The server side sends ``VERSION 1 x``, one ``MECH`` line per mechanism,
    ``SPID``, ``CUID`` (and ``COOKIE``), then ``DONE`` (tab-separated lines).
    """
    lines = [line.split('\t') for line in (reply or '').split('\n') if line]
    if not lines:
        return 'it sent nothing'
    if lines[0][:2] != ['VERSION', '1']:
        return 'it does not speak the Dovecot auth protocol 1 (it sent %r)' % '\t'.join(lines[0])[:80]
    if ['DONE'] not in lines:
        return 'its handshake did not end with DONE'
    if not any(fields[0] == 'MECH' for fields in lines):
        return 'it offers no authentication mechanism'
    return None


def sasl_problems(host, config_dir):
    """Why the Dovecot SASL service of the instance at ``config_dir`` does not answer (empty when it does)."""
    postconf = host.command('postconf')
    rc, out, _err = host.run([postconf, '-c', config_dir, '-x'] + list(SASL_PARAMETERS))
    base = parse_postconf(out) if rc == 0 else {}
    rc, out, _err = host.run([postconf, '-c', config_dir, '-P', '-x'])
    overrides = parse_postconf_services(out) if rc == 0 else {}
    problems = []
    for where, path in dovecot_sasl_sockets(base, overrides):
        interval, attempts = HEALTH_WAIT
        problem = None
        for _attempt in range(attempts):
            reply, error = host.dovecot_auth_handshake(path)
            problem = error or auth_handshake_problem(reply)
            if not problem:
                break
            host.sleep(interval)
        if problem:
            problems.append('%s smtpd_sasl_path: the Dovecot authentication service at %s does not answer: %s '
                            '(no user could authenticate)' % (where, path, problem))
    return problems


def _declared(address, port, wanted_endpoints):
    for wanted_address, wanted_port in wanted_endpoints:
        if wanted_port == port and (wanted_address in (address, ANY_ADDRESS) or address in WILDCARDS):
            return True
    return False


def stale_listeners(host, wanted_endpoints, own_master_pid):
    """Endpoints the master still listens on although the configuration no longer declares them."""
    if not own_master_pid:
        return []
    listening = host.listening_sockets()
    owners = host.socket_owners(set(inode for _address, _port, inode in listening))
    stale = set()
    for address, port, inode in listening:
        if any(pid == own_master_pid for pid, _command in owners.get(inode, [])) \
                and not _declared(address, port, wanted_endpoints):
            stale.add((address, port))
    return sorted(stale)
