# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks of a staged Postfix configuration that postconf(1) does not make.

Private to the collection. Every function is pure: what it needs from the
host (does a file exist, can an address be bound, what does a name resolve
to) comes in as a callable, so the rules can be unit tested without a host.
Each problem is returned as one human-readable string that names the
option or parameter and the reason.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_maps import MAP_TYPES

# Parameters the running master(8) does not take over on "postfix reload".
# postconf(5) says "you need to stop and start Postfix" for inet_interfaces
# and inet_protocols; master(8) ("CONFIGURATION PARAMETERS" / "MISCELLANEOUS
# CONTROLS") reads the directories, the mail owner and the imported
# environment only at start-up (it chdirs to queue_directory, holds its lock
# in data_directory and drops privileges to mail_owner). A change of any of
# these asks the caller for a restart instead of a reload.
RESTART_PARAMETERS = (
    'inet_interfaces',
    'inet_protocols',
    'queue_directory',
    'data_directory',
    'daemon_directory',
    'process_id_directory',
    'mail_owner',
    'setgid_group',
    'import_environment',
)

# Table types whose lookup reads a configuration or source file by path.
CONFIG_FILE_TABLES = ('ldap', 'mysql', 'pgsql', 'sqlite', 'memcache')
# Table types that wrap other tables.
WRAPPER_TABLES = ('proxy',)
COMPOSITE_TABLES = ('unionmap', 'pipemap')

# Parameter name endings that name a file (or list of files) that must exist.
FILE_PARAMETER_SUFFIXES = (
    '_cert_file', '_key_file', '_dcert_file', '_dkey_file', '_eccert_file', '_eckey_file',
    '_CAfile', '_dh1024_param_file', '_dh512_param_file', '_chain_files',
)
DIRECTORY_PARAMETER_SUFFIXES = ('_CApath',)

# Parameters holding one local address that Postfix binds to.
BIND_ADDRESS_PARAMETERS = ('smtp_bind_address', 'smtp_bind_address6', 'lmtp_bind_address', 'lmtp_bind_address6')

DEFAULT_MAILLOG_PREFIXES = ('/var', '/dev/stdout')

_HOSTNAME = re.compile(r'^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$')
_TABLE = re.compile(r'^([a-z][a-z0-9_]*):(.+)$')


def split_list(value):
    """Split a Postfix list value on commas and whitespace, keeping ``{ }`` groups."""
    items = []
    current = []
    depth = 0
    for char in value:
        if char == '{':
            depth += 1
        elif char == '}' and depth:
            depth -= 1
        if depth == 0 and (char == ',' or char.isspace()):
            if current:
                items.append(''.join(current))
                current = []
            continue
        current.append(char)
    if current:
        items.append(''.join(current))
    return items


def table_references(value):
    """Yield ``(type, path)`` for every file-based table named in ``value``.

    Follows ``proxy:`` and the members of ``unionmap:{...}`` and
    ``pipemap:{...}``. Other ``name:`` forms (``inline:``, ``static:``,
    ``inet:`` policy services, transports like ``smtp:[host]``) are ignored.
    """
    for item in split_list(value):
        yield from _item_references(item)


def _item_references(item):
    match = _TABLE.match(item)
    if not match:
        return
    table_type, rest = match.group(1), match.group(2)
    if table_type in WRAPPER_TABLES:
        yield from _item_references(rest)
    elif table_type in COMPOSITE_TABLES:
        inner = rest.strip()
        if inner.startswith('{') and inner.endswith('}'):
            for member in split_list(inner[1:-1]):
                yield from _item_references(member)
    elif table_type in MAP_TYPES or table_type in CONFIG_FILE_TABLES:
        yield table_type, rest


def table_files(table_type, path):
    """Files that must exist for Postfix to open ``table_type:path``."""
    if table_type in MAP_TYPES and MAP_TYPES[table_type].indexed:
        return [path + suffix for suffix in MAP_TYPES[table_type].suffixes]
    return [path]


def check_table_references(where, value, exists, provided=(), removed=()):
    """Problems with the tables named in one parameter value.

    ``exists(path)`` tells whether a file exists now; ``provided`` holds the
    files this same run writes (they count as existing) and ``removed`` the
    files it deletes (they count as missing).
    """
    problems = []
    for table_type, path in table_references(value):
        if '$' in path:
            problems.append('%s: cannot resolve %s:%s' % (where, table_type, path))
            continue
        if not path.startswith('/'):
            # Postfix opens relative names from its working directory (the
            # queue directory); there is no reliable place to look.
            continue
        missing = [name for name in table_files(table_type, path)
                   if name not in provided and (name in removed or not exists(name))]
        if missing:
            problems.append('%s: table %s:%s is missing (%s does not exist and this task does not write it)' % (
                where, table_type, path, ', '.join(missing)))
    return problems


def check_file_parameter(where, name, value, exists, isdir):
    """Problems with certificate, key and CA parameters."""
    problems = []
    if any(name.endswith(suffix) for suffix in FILE_PARAMETER_SUFFIXES):
        for path in split_list(value):
            if path.startswith('/') and not exists(path):
                problems.append('%s: file %s does not exist' % (where, path))
    elif any(name.endswith(suffix) for suffix in DIRECTORY_PARAMETER_SUFFIXES):
        for path in split_list(value):
            if path.startswith('/') and not isdir(path):
                problems.append('%s: directory %s does not exist' % (where, path))
    return problems


def _literal_address(text):
    candidate = text[1:-1] if text.startswith('[') and text.endswith(']') else text
    if candidate.lower().startswith('ipv6:'):
        candidate = candidate[5:]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _looks_numeric(text):
    stripped = text.strip('[]')
    return ':' in stripped or bool(re.match(r'^[0-9.]+$', stripped))


def check_interfaces(where, value, is_local, resolve, protocols=('ipv4', 'ipv6')):
    """Problems with an ``inet_interfaces`` value.

    Accepts ``all``, ``loopback-only`` (alone), and addresses or host names.
    A literal address must be assigned to a local interface (``is_local``);
    a host name must resolve (``resolve``), and every address it resolves to
    in an enabled protocol must be local, because master(8) binds them all.
    """
    problems = []
    items = split_list(value)
    keywords = [item for item in items if item.lower() in ('all', 'loopback-only')]
    if keywords and len(items) > 1:
        return ['%s: %s cannot be combined with other values' % (where, keywords[0])]
    for item in items:
        if item.lower() in ('all', 'loopback-only'):
            continue
        address = _literal_address(item)
        if address is not None:
            if not is_local(address):
                problems.append('%s: address %s is not assigned to a local interface' % (where, address))
            continue
        if _looks_numeric(item) or not _HOSTNAME.match(item):
            problems.append('%s: %r is neither an IP address nor a host name' % (where, item))
            continue
        addresses = [addr for addr in resolve(item) if _family_enabled(addr, protocols)]
        if not addresses:
            problems.append('%s: host name %s does not resolve' % (where, item))
            continue
        for addr in addresses:
            if not is_local(addr):
                problems.append('%s: %s resolves to %s, which is not assigned to a local interface' % (where, item, addr))
    return problems


def _family_enabled(address, protocols):
    version = ipaddress.ip_address(address).version
    return ('ipv%d' % version) in protocols


def protocols_of(value):
    """Enabled protocols from an ``inet_protocols`` value."""
    items = [item.lower() for item in split_list(value or 'all')]
    if 'all' in items:
        return ('ipv4', 'ipv6')
    return tuple(item for item in items if item in ('ipv4', 'ipv6'))


def check_bind_address(where, value, can_bind):
    """A client bind address must be an address this host can bind to."""
    if not value:
        return []
    address = _literal_address(value)
    if address is None:
        return ['%s: %r is not an IP address' % (where, value)]
    if not can_bind(address):
        return ['%s: cannot bind to %s (not a local address)' % (where, address)]
    return []


def check_maillog_file(where, value, prefixes_value=None):
    """maillog_file must start with an allowed prefix, or Postfix refuses to start
    (and ``postfix check`` fails without saying why)."""
    if not value:
        return []
    prefixes = split_list(prefixes_value) if prefixes_value else list(DEFAULT_MAILLOG_PREFIXES)
    if any(value.startswith(prefix) for prefix in prefixes):
        return []
    return ['%s: %s is outside maillog_file_prefixes (%s); Postfix would refuse to start' % (
        where, value, ', '.join(prefixes))]


def check_master_command(where, command, daemon_directory, exists):
    path = command if command.startswith('/') else '%s/%s' % (daemon_directory.rstrip('/'), command)
    if not exists(path):
        return ['%s: command %s not found (%s does not exist)' % (where, command, path)]
    return []


def check_parameters(params, probe, provided=(), removed=(), where_format='main_cf.%s'):
    """All value checks for one set of expanded parameters (main.cf or one service's -o).

    ``probe`` answers questions about the host: ``exists(path)``,
    ``isdir(path)``, ``is_local_address(address)`` (configured on an
    interface, what inet_interfaces needs), ``can_bind(address)`` (what a
    client bind address needs) and ``resolve(name)``.
    """
    problems = []
    protocols = protocols_of(params.get('inet_protocols'))
    for name, value in params.items():
        where = where_format % name
        problems.extend(check_table_references(where, value, probe.exists, provided, removed))
        problems.extend(check_file_parameter(where, name, value, probe.exists, probe.isdir))
        if name == 'inet_interfaces':
            problems.extend(check_interfaces(where, value, probe.is_local_address, probe.resolve, protocols))
        elif name in BIND_ADDRESS_PARAMETERS:
            problems.extend(check_bind_address(where, value, probe.can_bind))
        elif name == 'maillog_file':
            problems.extend(check_maillog_file(where, value, params.get('maillog_file_prefixes')))
    return problems


def parse_postconf(text):
    """``{name: value}`` from ``postconf`` output lines ``name = value``."""
    result = {}
    for line in text.splitlines():
        name, sep, value = line.partition(' = ')
        if not sep:
            name, sep, value = line.partition(' =')
        if sep:
            result[name.strip()] = value.strip()
    return result


def parse_postconf_services(text):
    """``{(service, type): {name: value}}`` from ``postconf -P`` output."""
    result = {}
    for key, value in parse_postconf(text).items():
        parts = key.split('/')
        if len(parts) == 3:
            result.setdefault((parts[0], parts[1]), {})[parts[2]] = value
    return result


def classify_warnings(stderr):
    """Split postconf stderr into ``(unused_parameter_lines, other_warning_lines, fatal_lines)``."""
    unused, other, fatal = [], [], []
    for line in stderr.splitlines():
        line = line.strip()
        if not line:
            continue
        if 'fatal:' in line or 'error:' in line:
            fatal.append(line)
        elif 'unused parameter' in line:
            unused.append(line)
        elif 'warning:' in line:
            other.append(line)
    return unused, other, fatal


# Postfix 3.6+ known_tcp_ports default; other names come from services(5).
KNOWN_TCP_PORTS = {'lmtp': 24, 'smtp': 25, 'smtps': 465, 'submissions': 465, 'submission': 587}
ANY_ADDRESS = '*'


def listen_endpoints(params, services, port_number, resolve):
    """``{(address, port)}`` that an instance's master(8) binds for its inet services.

    ``params``: main.cf parameters; ``services``: MasterService objects;
    ``port_number(name)`` maps a service name to a port (or None);
    ``resolve(name)`` maps a host name to addresses. ``*`` stands for every
    address (inet_interfaces = all). Services disabled by
    master_service_disable are left out. Unknown names are skipped.
    """
    disabled = set(split_list(params.get('master_service_disable') or ''))
    if 'inet' in disabled:
        return set()
    interfaces = split_list(params.get('inet_interfaces') or 'all')
    addresses = set()
    for item in interfaces:
        lowered = item.lower()
        if lowered == 'all':
            addresses.add(ANY_ADDRESS)
        elif lowered == 'loopback-only':
            addresses.update(('127.0.0.1', '::1'))
        else:
            literal = _literal_address(item)
            addresses.update([literal] if literal else resolve(item))
    endpoints = set()
    for service in services:
        if service.type != 'inet' or '%s/inet' % service.service in disabled:
            continue
        host, sep, port_name = service.service.rpartition(':')
        port = port_number(port_name)
        if port is None:
            continue
        if sep and host not in ('', '*'):
            literal = _literal_address(host)
            bound = set([literal] if literal else resolve(host))
        else:
            bound = addresses
        endpoints.update((address, port) for address in bound)
    return endpoints


def endpoint_clashes(mine, theirs):
    """Endpoints of ``mine`` that ``theirs`` also binds (``*`` overlaps every address)."""
    clashes = set()
    for address, port in mine:
        for other_address, other_port in theirs:
            if port == other_port and (address == other_address or ANY_ADDRESS in (address, other_address)):
                clashes.add((address, port))
    return sorted(clashes)
