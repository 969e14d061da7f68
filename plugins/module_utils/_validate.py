# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one input vocabulary: domain, host name, address, instance name, safe text.

Private to the collection. The topology, the job settings and the Postfix
modules check their input with these rules, so that one kind of value is
accepted or refused the same way everywhere. Each ``check_*`` function takes
the value and the name of the field it came from, and returns the normalised
value or raises InvalidInput naming that field; each ``is_*`` function only
answers yes or no. No function here raises anything else for a wrong type.
"""

from __future__ import annotations

import ipaddress
import re

_LABEL = re.compile(r'^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$')
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
# postfix (the primary) or postfix-NAME: what postmulti(1) accepts and what
# can be part of a path (/etc/postfix-NAME) and a log file name.
_INSTANCE = re.compile(r'^postfix(-[A-Za-z0-9][A-Za-z0-9._-]*)?$')
# Characters no line-based file of Postfix or Dovecot can hold inside one value.
LINE_BREAKS = ('\n', '\r', '\x00')
# What every refusal of such a character says, whichever file the value goes to.
ONE_LINE = 'must be one line: a line break (or NUL) cannot be written into the file it goes to'


class InvalidInput(ValueError):
    """``field``: where the value came from (e.g. ``hub_relay_clients[0].address``)."""

    def __init__(self, field, message):
        super().__init__('%s: %s' % (field, message))
        self.field = field
        self.message = message


def has_line_break(value):
    """True when the string ``value``, or a string item of the list ``value``, holds a character of LINE_BREAKS.

    Postfix reads a newline in main.cf as a continuation line, in master.cf and in a lookup table
    as the start of another entry; Dovecot's passwd-file likewise: the value would silently change.
    """
    items = value if isinstance(value, (list, tuple)) else [value]
    return any(isinstance(item, str) and any(char in item for char in LINE_BREAKS) for item in items)


def _type_name(value):
    if isinstance(value, (list, tuple)):
        return 'a list'
    if isinstance(value, dict):
        return 'a mapping'
    if value is None:
        return 'nothing'
    return 'a %s' % type(value).__name__


def check_text(value, field, forbid='', allow_empty=False, what='text'):
    """A string on one line, without the characters of ``forbid``; stripped of outer blanks only when asked."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput(field, 'must be %s (a string), got %s' % (what, _type_name(value)))
    text = str(value)
    if has_line_break(text):
        raise InvalidInput(field, ONE_LINE)
    for char in forbid:
        if char in text:
            raise InvalidInput(field, 'must not contain %r here' % char)
    if not text and not allow_empty:
        raise InvalidInput(field, 'must not be empty')
    return text


def is_domain(text):
    """A fully qualified domain name: LDH labels, at least two, no trailing dot, not all-numeric top label."""
    if not isinstance(text, str) or not text or len(text) > 253 or text != text.strip():
        return False
    labels = text.split('.')
    return len(labels) >= 2 and all(_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def check_domain(value, field, what='a domain name'):
    text = check_text(value, field, what=what)
    if not is_domain(text):
        raise InvalidInput(field, '%r is not %s' % (text, what))
    return text.lower()


def check_host_name(value, field):
    """A fully qualified host name (the same rule as a domain)."""
    return check_domain(value, field, what='a fully qualified host name')


def is_mail_address(text):
    """local@domain with a plain (unquoted) local part and a fully qualified domain."""
    if not isinstance(text, str) or text.count('@') != 1:
        return False
    local, domain = text.split('@')
    return bool(_LOCAL_PART.fullmatch(local)) and not local.startswith('.') and '..' not in local and is_domain(domain)


def check_mail_address(value, field):
    text = check_text(value, field, what='a mail address')
    if not is_mail_address(text):
        raise InvalidInput(field, '%r is not a mail address' % text)
    return text


def check_host_address(value, field):
    """One unicast IP address (of one host, never a network or 'any')."""
    text = check_text(value, field, what='an IP address').strip().strip('[]')
    if '/' in text:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            network = None
        if network is not None and network.num_addresses > 1:
            raise InvalidInput(field, '%s is a network; only the address of one host is allowed here' % text)
        text = text.split('/', maxsplit=1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidInput(field, '%r is not an IP address' % text)
    if address.is_unspecified or address.is_multicast:
        raise InvalidInput(field, '%s is not the address of one host' % address)
    return str(address)


def check_network(value, field):
    """An IP network in CIDR form (a bare address is a /32 or /128)."""
    text = check_text(value, field, what='an IP network').strip()
    try:
        return ipaddress.ip_network(text.replace('[', '').replace(']', ''), strict=True)
    except ValueError as exc:
        raise InvalidInput(field, '%r is not an IP network (%s)' % (text, exc))


def check_instance_name(value, field):
    text = check_text(value, field, what='a Postfix instance name')
    if not _INSTANCE.fullmatch(text):
        raise InvalidInput(field, '%r is not a Postfix instance name: "postfix" (the primary) or "postfix-NAME" '
                                  '(letters, digits, ".", "_", "-")' % text)
    return text


def is_instance_name(value):
    return isinstance(value, str) and bool(_INSTANCE.fullmatch(value))


def check_port(value, field):
    if isinstance(value, bool):
        raise InvalidInput(field, 'must be a TCP port between 1 and 65535, got %r' % (value,))
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(field, 'must be a TCP port between 1 and 65535, got %s' % (
            repr(value) if isinstance(value, str) else _type_name(value)))
    if not 0 < port < 65536:
        raise InvalidInput(field, 'must be a TCP port between 1 and 65535, got %r' % (value,))
    return port


def check_sasl_login(value, field):
    """A user name in a Postfix SASL password table value (``user:password``): no ':' and no blanks."""
    text = check_text(value, field, forbid=':', what='a user name')
    if any(char.isspace() for char in text):
        raise InvalidInput(field, 'must not contain blanks (the table value is "user:password")')
    return text


def check_secret(value, field):
    """A password: any one-line string, never shown in the message."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput(field, 'must be a string, got %s' % _type_name(value))
    text = str(value)
    if has_line_break(text):
        raise InvalidInput(field, ONE_LINE)
    if not text:
        raise InvalidInput(field, 'must not be empty')
    return text


def check_list(value, field, what='a list'):
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise InvalidInput(field, 'must be %s, got %s' % (what, _type_name(value)))
    return list(value)


def check_mapping(value, field, what='a mapping'):
    if not isinstance(value, dict):
        raise InvalidInput(field, 'must be %s, got %s' % (what, _type_name(value)))
    return value


def check_keys(problems, field, value, allowed):
    """Add a problem (to ``problems.add``) for each key of the mapping ``value`` not in ``allowed``."""
    for key in sorted(set(value) - allowed):
        problems.add("%s.%s" % (field, key) if field else key, "unknown key; known keys are %s" % ", ".join(sorted(allowed)))


def as_list(problems, field, value):
    """``value`` as a list ([] for nothing); a problem added, and [], when it is not one."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(field, "must be a list")
        return []
    return value
