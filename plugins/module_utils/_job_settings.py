# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The settings a job role hands to a platform builder, checked field by field.

Private to the collection. A job role used on its own (without the topology)
passes its variables straight to the Postfix builder; these checks make sure
that what reaches a Postfix file is what was meant: one host address where a
relay client is meant (a network only with ``relay_networks`` set, and then
with a warning), one-line values, a SASL user name without ``:``, the right
types. Problems name the role variable (``hub_relay_clients[0].address``).
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _validate as v

JOBS = ('submission', 'inbound_relay', 'hub')
OUTBOUND_METHODS = ('dns', 'smarthost')
SMARTHOST_TLS = ('none', 'may', 'encrypt')


class JobSettingsError(ValueError):
    def __init__(self, problems):
        super().__init__('; '.join(problems))
        self.problems = list(problems)


def _collect(problems, function, *args):
    try:
        return function(*args)
    except v.InvalidInput as exc:
        problems.append(str(exc))
        return None


def _optional(settings, name):
    value = settings.get(name)
    return None if value in (None, '') else value


def _hops(problems, settings, name, field):
    hops = _collect(problems, v.check_list, settings.get(name), field) or []
    if not hops:
        problems.append('%s: required: at least one next hop (the hub)' % field)
    for index, hop in enumerate(hops):
        where = '%s[%d]' % (field, index)
        if _collect(problems, v.check_mapping, hop, where, 'a mapping with address and port') is None:
            continue
        _collect(problems, v.check_host_address, hop.get('address'), where + '.address')
        if hop.get('port') not in (None, ''):
            _collect(problems, v.check_port, hop.get('port'), where + '.port')


def _domains(problems, settings, field):
    domains = _collect(problems, v.check_list, settings.get('domains'), field) or []
    if not domains:
        problems.append('%s: required: at least one own domain' % field)
    for index, domain in enumerate(domains):
        _collect(problems, v.check_domain, domain, '%s[%d]' % (field, index))


def _addresses(problems, settings, name, field):
    for index, address in enumerate(_collect(problems, v.check_list, settings.get(name), field) or []):
        _collect(problems, v.check_mail_address, address, '%s[%d]' % (field, index))


def check(job, settings, prefix=None):
    """Problems with ``settings`` of ``job`` as a list; warnings as a second list.

    ``prefix`` is the role's variable prefix (default ``JOB_``).
    """
    prefix = prefix if prefix is not None else job + '_'
    problems = []
    warnings = []
    if not isinstance(settings, dict):
        return ['%ssettings: must be a mapping, got %s' % (prefix, v._type_name(settings))], warnings  # pylint: disable=protected-access

    def field(name):
        return prefix + name

    _collect(problems, v.check_instance_name, settings.get('instance'), field('instance'))
    _collect(problems, v.check_host_address, settings.get('address'), field('address'))
    _collect(problems, v.check_port, settings.get('port'), field('port'))
    _collect(problems, v.check_host_name, settings.get('hostname'), field('hostname'))
    size = _optional(settings, 'max_message_size')
    if size is not None:
        try:
            ok = not isinstance(size, bool) and int(size) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append('%s: must be a positive number of bytes, got %r' % (field('max_message_size'), size))
    for name in ('tls_cert_file', 'tls_key_file'):
        value = _optional(settings, name)
        if value is not None:
            path = _collect(problems, v.check_text, value, field(name), '', False, 'a file path')
            if path is not None and not path.startswith('/'):
                problems.append('%s: must be an absolute path, got %r' % (field(name), path))

    if job == 'submission':
        _collect(problems, v.check_domain, settings.get('placeholder_domain'), field('placeholder_domain'))
        _hops(problems, settings, 'next_hops', field('next_hops'))
        for name in ('sasl_path', 'sender_login_maps'):
            if _optional(settings, name) is not None:
                _collect(problems, v.check_text, settings.get(name), field(name))
        users = _collect(problems, v.check_list, settings.get('users'), field('users')) or []
        for index, user in enumerate(users):
            where = '%s[%d]' % (field('users'), index)
            if _collect(problems, v.check_mapping, user, where, 'a mapping with login, password and senders') is None:
                continue
            _collect(problems, v.check_sasl_login, user.get('login'), where + '.login')
            if user.get('password') is not None:
                _collect(problems, v.check_secret, user.get('password'), where + '.password')
            senders = _collect(problems, v.check_list, user.get('senders'), where + '.senders') or []
            for position, sender in enumerate(senders):
                _collect(problems, v.check_mail_address, sender, '%s.senders[%d]' % (where, position))
    elif job == 'inbound_relay':
        _domains(problems, settings, field('domains'))
        _hops(problems, settings, 'next_hops', field('next_hops'))
        _addresses(problems, settings, 'recipients', field('recipients'))
    elif job == 'hub':
        _domains(problems, settings, field('domains'))
        _addresses(problems, settings, 'mailboxes', field('mailboxes'))
        allow_networks = settings.get('relay_networks') in (True, 'true', 'True', 'yes')
        for name in ('relay_clients', 'inbound_relays'):
            clients = _collect(problems, v.check_list, settings.get(name), field(name)) or []
            for index, client in enumerate(clients):
                where = '%s[%d]' % (field(name), index)
                if _collect(problems, v.check_mapping, client, where, 'a mapping with address') is None:
                    continue
                if name == 'relay_clients' and allow_networks:
                    network = _collect(problems, v.check_network, client.get('address'), where + '.address')
                    if network is not None and network.num_addresses > 1:
                        warnings.append('%s.address: %s is a network: every host in it may relay mail to the Internet '
                                        'through the hub (%srelay_networks is true)' % (where, network, prefix))
                else:
                    _collect(problems, v.check_host_address, client.get('address'), where + '.address')
        method = settings.get('outbound_method') or 'dns'
        if method not in OUTBOUND_METHODS:
            problems.append('%s: must be one of %s, got %r' % (field('outbound_method'), ', '.join(OUTBOUND_METHODS), method))
        smarthost = settings.get('smarthost')
        if method == 'smarthost':
            where = field('smarthost')
            if _collect(problems, v.check_mapping, smarthost, where, 'a mapping with host') is not None:
                host = smarthost.get('host')
                try:
                    v.check_host_address(host, where + '.host')
                except v.InvalidInput:
                    _collect(problems, v.check_host_name, host, where + '.host')
                if smarthost.get('port') not in (None, ''):
                    _collect(problems, v.check_port, smarthost.get('port'), where + '.port')
                tls = smarthost.get('tls') or 'may'
                if tls not in SMARTHOST_TLS:
                    problems.append('%s.tls: must be one of %s, got %r' % (where, ', '.join(SMARTHOST_TLS), tls))
                username = smarthost.get('username')
                password = smarthost.get('password')
                if username not in (None, ''):
                    _collect(problems, v.check_sasl_login, username, where + '.username')
                if password not in (None, ''):
                    _collect(problems, v.check_secret, password, where + '.password')
                if (username in (None, '')) != (password in (None, '')):
                    problems.append('%s: username and password go together' % where)
        dns_servers = _collect(problems, v.check_list, settings.get('dns_servers'), field('dns_servers')) or []
        for index, server in enumerate(dns_servers):
            _collect(problems, v.check_host_address, server, '%s[%d]' % (field('dns_servers'), index))
    return problems, warnings
