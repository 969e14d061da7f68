# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Exchange primitives shared by the Exchange resources.

Pure Python: IP ranges (single address, CIDR, start-end, IPv4 and IPv6),
receive connector bindings, security identifiers of well-known principals,
exact ``SERVER\\Name`` identities, Exchange byte sizes, the typed operations
of the payload's apply mode, session options and the readable diff text.
Nothing here talks to a host.

Facts that come from public documentation only (no live Exchange has
confirmed them yet) are kept in this module and in ``docs/exchange.md``.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import ipaddress
import re


class ExchangeInputError(ValueError):
    """A bad option value; the message starts with the option name."""


# ---- security identifiers --------------------------------------------------------------------

ANONYMOUS_LOGON_SID = "S-1-5-7"
AUTHENTICATED_USERS_SID = "S-1-5-11"
EVERYONE_SID = "S-1-1-0"
# Exchange's own principals (Hub Transport Servers, Partner Server, Externally Secured Servers...)
# live under this S-1-9 authority. Their permissions come with permission groups and are never
# removed by this collection. Source: public Exchange material, not confirmed on a live host.
EXCHANGE_PRINCIPAL_PREFIX = "S-1-9-1419165041-1139599005-3936102811-1022490595-"

PRINCIPAL_ALIASES = {
    "anonymous": ANONYMOUS_LOGON_SID,
    "anonymous_logon": ANONYMOUS_LOGON_SID,
    "authenticated_users": AUTHENTICATED_USERS_SID,
    "everyone": EVERYONE_SID,
}

# Last resort when the host returned a name without a SID: localized names of the well-known
# principals seen in public material (English and German Active Directory).
_WELL_KNOWN_NAMES = {
    "nt authority\\anonymous logon": ANONYMOUS_LOGON_SID,
    "nt-autorität\\anonymous-anmeldung": ANONYMOUS_LOGON_SID,
    "nt authority\\authenticated users": AUTHENTICATED_USERS_SID,
    "nt-autorität\\authentifizierte benutzer": AUTHENTICATED_USERS_SID,
    "everyone": EVERYONE_SID,
    "jeder": EVERYONE_SID,
}

_SID = re.compile(r"^[Ss]-1(-\d+){1,15}$")


def is_sid(text):
    return isinstance(text, str) and bool(_SID.match(text.strip()))


def normalize_sid(text):
    return "S" + text.strip()[1:]


def sid_for_well_known_name(name):
    """The SID of a well-known principal given by a (possibly localized) name, or None."""
    if not isinstance(name, str):
        return None
    return _WELL_KNOWN_NAMES.get(name.strip().casefold())


def is_exchange_principal(sid):
    return bool(sid) and sid.startswith(EXCHANGE_PRINCIPAL_PREFIX)


def parse_principal(text, option):
    """``(sid, name)`` of a principal written as an alias, a SID or an account name."""
    if not isinstance(text, str) or not text.strip():
        raise ExchangeInputError("%s: a principal must be a non-empty string" % option)
    value = text.strip()
    alias = PRINCIPAL_ALIASES.get(value.lower())
    if alias:
        return alias, None
    if is_sid(value):
        return normalize_sid(value), None
    if value.upper().startswith("S-1-"):
        raise ExchangeInputError("%s: %r looks like a SID but is not one" % (option, value))
    return sid_for_well_known_name(value), value


# ---- identities --------------------------------------------------------------------------------

# Exchange's own receive connectors; the collection never modifies them.
DEFAULT_CONNECTOR_PREFIXES = ("Default", "Client Frontend", "Default Frontend", "Outbound Proxy Frontend", "Client Proxy")
_NAME_FORBIDDEN = re.compile(r"[\\*?\x00-\x1f]")


def short_server_name(server):
    """Exchange shows connector identities with the server's short name."""
    return server.strip().split(".")[0]


def check_object_name(name, option, max_length=64):
    if not isinstance(name, str) or not name.strip():
        raise ExchangeInputError("%s: must be a non-empty name" % option)
    if name != name.strip():
        raise ExchangeInputError("%s: %r has leading or trailing spaces" % (option, name))
    if len(name) > max_length:
        raise ExchangeInputError("%s: longer than %d characters" % (option, max_length))
    if _NAME_FORBIDDEN.search(name):
        # A backslash would change the identity; wildcards would match other objects.
        raise ExchangeInputError("%s: %r contains a backslash, a wildcard or a control character" % (option, name))
    return name


def check_server_name(server, option="server"):
    if not isinstance(server, str) or not re.match(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*$", server.strip()):
        raise ExchangeInputError("%s: %r is not an Exchange server name" % (option, server))
    return server.strip()


def connector_identity(server, name):
    return "%s\\%s" % (short_server_name(server), name)


def same_identity(left, right):
    """Exact identity comparison (Exchange names are case-insensitive); never a substring match."""
    return isinstance(left, str) and isinstance(right, str) and left.casefold() == right.casefold()


def find_raw(document, collection, key, identity):
    """The object of the payload's ``document[collection]`` whose ``key`` is exactly ``identity``, or None."""
    for raw in document.get(collection) or []:
        if same_identity(raw.get(key), identity):
            return raw
    return None


def is_default_connector(name, server):
    short = short_server_name(server).casefold()
    return any(name.casefold() == ("%s %s" % (prefix, short)).casefold() for prefix in DEFAULT_CONNECTOR_PREFIXES)


# ---- IP ranges and bindings ----------------------------------------------------------------------

# Anonymous relay for more addresses than this needs allow_broad_relay.
BROAD_IPV4_ADDRESSES = 256
BROAD_IPV6_ADDRESSES = 2 ** 64


class IPRange:
    """One RemoteIPRanges entry: a single address, a CIDR block or a start-end range."""

    __slots__ = ("version", "first", "last", "text")

    def __init__(self, version, first, last, text):
        self.version = version
        self.first = first
        self.last = last
        self.text = text

    @property
    def key(self):
        return (self.version, self.first, self.last)

    @property
    def size(self):
        return self.last - self.first + 1

    @property
    def broad(self):
        limit = BROAD_IPV4_ADDRESSES if self.version == 4 else BROAD_IPV6_ADDRESSES
        return self.size > limit

    def __eq__(self, other):
        return isinstance(other, IPRange) and self.key == other.key

    def __hash__(self):
        return hash(self.key)

    def __repr__(self):
        return "IPRange(%r)" % self.text


def _address(text, option):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise ExchangeInputError("%s: %r is not an IP address" % (option, text))


def parse_ip_range(text, option="remote_ip_ranges"):
    """Parse ``10.0.0.5``, ``10.0.0.0/24``, ``10.0.0.1-10.0.0.9``, ``10.0.0.0(255.255.255.0)`` or IPv6 forms."""
    if not isinstance(text, str) or not text.strip():
        raise ExchangeInputError("%s: an IP range must be a non-empty string" % option)
    value = text.strip()
    mask = re.match(r"^([^()]+)\(([^()]+)\)$", value)
    if mask:
        try:
            network = ipaddress.ip_network("%s/%s" % (mask.group(1).strip(), mask.group(2).strip()), strict=True)
        except ValueError as exc:
            raise ExchangeInputError("%s: %r is not an address with a subnet mask (%s)" % (option, text, exc))
        return _from_network(network)
    if "/" in value:
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            if "host bits set" in str(exc):
                suggestion = ipaddress.ip_network(value, strict=False)
                raise ExchangeInputError("%s: %r has host bits set; did you mean %s?" % (option, text, suggestion))
            raise ExchangeInputError("%s: %r is not a CIDR block (%s)" % (option, text, exc))
        return _from_network(network)
    if "-" in value and not value.startswith("-"):
        start_text, dummy, end_text = value.partition("-")
        start, end = _address(start_text, option), _address(end_text, option)
        if start.version != end.version:
            raise ExchangeInputError("%s: %r mixes IPv4 and IPv6" % (option, text))
        if int(start) > int(end):
            raise ExchangeInputError("%s: %r starts after it ends" % (option, text))
        if start == end:
            return IPRange(start.version, int(start), int(start), str(start))
        return IPRange(start.version, int(start), int(end), "%s-%s" % (start, end))
    address = _address(value, option)
    return IPRange(address.version, int(address), int(address), str(address))


def _from_network(network):
    first, last = int(network.network_address), int(network.broadcast_address)
    if first == last:
        return IPRange(network.version, first, last, str(network.network_address))
    return IPRange(network.version, first, last, "%s/%d" % (network.network_address, network.prefixlen))


def parse_ip_ranges(values, option="remote_ip_ranges"):
    """Parse a list; duplicates (same addresses, whatever the notation) are dropped, order kept."""
    return unique((parse_ip_range(value, "%s[%d]" % (option, index)) for index, value in enumerate(values or [])),
                  key=lambda parsed: parsed.key)


def same_ranges(left, right):
    return {item.key for item in left} == {item.key for item in right}


def parse_binding(text, option="bindings"):
    """``(address, port)`` from ``0.0.0.0:25``, ``10.0.0.2:25`` or ``[::]:25``."""
    if not isinstance(text, str):
        raise ExchangeInputError("%s: a binding must be a string like 0.0.0.0:25" % option)
    match = re.match(r"^\s*(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):(\d{1,5})\s*$", text)
    if not match:
        raise ExchangeInputError("%s: %r is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)" % (option, text))
    address = _address(match.group(1) or match.group(2), option)
    port = int(match.group(3))
    if not 0 < port < 65536:
        raise ExchangeInputError("%s: port %d is out of range" % (option, port))
    return (str(address), port)


def format_binding(binding):
    address, port = binding
    if ":" in address:
        return "[%s]:%d" % (address, port)
    return "%s:%d" % (address, port)


def parse_bindings(values, option="bindings"):
    return unique(parse_binding(value, "%s[%d]" % (option, index)) for index, value in enumerate(values or []))


# ---- byte sizes ---------------------------------------------------------------------------------

UNLIMITED = "unlimited"
_UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


def parse_byte_size(value, option="max_message_size", allow_unlimited=False):
    """Bytes (int) from ``36700160``, ``"35MB"``, ``"35 MB"``; ``"unlimited"`` where Exchange allows it."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ExchangeInputError("%s: %r is not a size" % (option, value))
    if isinstance(value, int):
        size = value
    else:
        text = str(value).strip()
        if text.lower() == UNLIMITED:
            if not allow_unlimited:
                raise ExchangeInputError("%s: unlimited is not allowed here" % option)
            return UNLIMITED
        match = re.match(r"^(\d+)\s*([KMGT]?B)?$", text, re.IGNORECASE)
        if not match:
            raise ExchangeInputError("%s: %r is not a size such as 36700160, 35MB or 35 MB" % (option, value))
        size = int(match.group(1)) * _UNITS[(match.group(2) or "B").upper()]
    if size <= 0:
        raise ExchangeInputError("%s: must be a positive size" % option)
    return size


def size_from_host(text):
    """Bytes from Exchange's ByteQuantifiedSize text, e.g. ``36 MB (37,748,736 bytes)`` (any digit grouping)."""
    if text is None or text == "":
        return None
    value = str(text).strip()
    if value.lower() == UNLIMITED:
        return UNLIMITED
    match = re.search(r"\(([^()]*)\s*bytes\)", value)
    if match:
        digits = re.sub(r"\D", "", match.group(1))
        if digits:
            return int(digits)
    try:
        return parse_byte_size(value, allow_unlimited=True)
    except ExchangeInputError:
        return None


def size_to_host(size):
    """The value handed to a ByteQuantifiedSize parameter: the largest exact unit."""
    if size == UNLIMITED:
        return "Unlimited"
    for unit in ("GB", "MB", "KB"):
        if size % _UNITS[unit] == 0:
            return "%d%s" % (size // _UNITS[unit], unit)
    return "%dB" % size


def format_size(size):
    if size is None:
        return None
    if size == UNLIMITED:
        return UNLIMITED
    return size_to_host(size)


# ---- flags ------------------------------------------------------------------------------------------


def split_flags(text):
    """``"AnonymousUsers, Custom"`` (an Exchange flags enum as text) -> ``["AnonymousUsers", "Custom"]``."""
    if text is None:
        return []
    if isinstance(text, list):
        items = text
    else:
        items = str(text).split(",")
    return [item.strip() for item in items if item and item.strip() and item.strip() != "None"]


def canonical_choice(value, choices, option):
    """Match ``value`` against ``choices`` case-insensitively; return the documented spelling."""
    for choice in choices:
        if str(value).casefold() == choice.casefold():
            return choice
    raise ExchangeInputError("%s: %r is not one of %s" % (option, value, ", ".join(choices)))


def join_flags(values):
    return ",".join(values) if values else "None"


# ---- plans ------------------------------------------------------------------------------------------


def unique(items, key=None):
    """``items`` without repeats (compared by ``key(item)`` when given), first occurrence kept, order kept."""
    seen, result = set(), []
    for item in items:
        marker = item if key is None else key(item)
        if marker not in seen:
            seen.add(marker)
            result.append(item)
    return result


def operation(kind, name, parameters, verify=True, **extra):
    """One typed operation of the payload's apply mode (``kind`` is a row of its operation table).

    ``name`` says what changes (shown if the host does not keep it); ``verify=False`` exempts a
    write-only setting from the check of the state after; ``extra`` holds the operation's other
    keys (``identity``, ``target_dn``/``target_new``, ``credential``).
    """
    return dict(extra, op=kind, name=name, parameters=parameters, verify=verify)


def desired_or_current(desired, current, key):
    """A setting after the change: the desired value when it is managed, else what the host has (None if new)."""
    if desired[key] is not None:
        return desired[key]
    return current[key] if current is not None else None


# ---- session options ------------------------------------------------------------------------------

# Remote by default: Microsoft does not support loading the Exchange snap-in directly, and over
# WinRM the snap-in's own calls to Active Directory are a second hop that NTLM (or Kerberos without
# delegation) cannot make. The remote endpoint with explicit credentials needs no delegation.
DEFAULT_SESSION = "remote"
SESSION_ARGUMENT_SPEC = {
    "session": {"type": "str", "choices": ["local", "remote"], "default": DEFAULT_SESSION},
    "connection_uri": {"type": "str"},
    "session_authentication": {"type": "str", "choices": ["kerberos", "negotiate", "default"], "default": "kerberos"},
    "session_username": {"type": "str"},
    "session_password": {"type": "str", "no_log": True},
}
SESSION_REQUIRED_TOGETHER = [["session_username", "session_password"]]
SESSION_PASSWORD_PARAMETER = "SessionPassword"


def session_parameters(params):
    """Payload parameters that choose how the payload reaches the Exchange cmdlets."""
    uri = params.get("connection_uri") or ""
    if params["session"] == "local" and (uri or params.get("session_username")):
        raise ExchangeInputError(
            "connection_uri/session_username: only used with session=remote (session=local loads the "
            "Exchange snap-in on the managed host itself)"
        )
    if uri and not re.match(r"^https?://[^/\s]+/[Pp]ower[Ss]hell/?$", uri):
        raise ExchangeInputError("connection_uri: %r is not an Exchange endpoint such as http://ex01.example.com/PowerShell/" % uri)
    return {
        "Session": params["session"],
        "ConnectionUri": uri,
        "Authentication": {"kerberos": "Kerberos", "negotiate": "Negotiate", "default": "Default"}[params["session_authentication"]],
        "Username": params.get("session_username") or "",
    }


def session_warnings(params):
    """What the user should know about the chosen session before anything fails on the host."""
    if params["session"] == "local":
        return ["session=local loads the Exchange snap-in, which Microsoft does not support for administration; "
                "over WinRM its Active Directory calls are a second hop and fail unless the connection uses CredSSP, "
                "Kerberos delegation or become. session=remote with session_username/session_password needs none of these."]
    if not params.get("session_username"):
        return ["session=remote without session_username: the managed host's connection to the Exchange endpoint is a "
                "second hop that works only when the Ansible connection can delegate (CredSSP, Kerberos delegation) "
                "or the managed host is not reached over WinRM; set session_username and session_password."]
    return []


def session_secrets(params):
    if params.get("session_password"):
        return {SESSION_PASSWORD_PARAMETER: params["session_password"]}
    return {}


# ---- errors ---------------------------------------------------------------------------------------------

_ERROR_HELP = {
    "snapin_missing": (
        "The Exchange management tools are not available on the managed host (session=local loads the snap-in "
        "Microsoft.Exchange.Management.PowerShell.SnapIn). Run the task on an Exchange server, or use session=remote "
        "with connection_uri=http://EXCHANGE-FQDN/PowerShell/."
    ),
    "endpoint_unreachable": (
        "Could not open the Exchange remote PowerShell session (configuration Microsoft.Exchange). Check connection_uri "
        "(http://EXCHANGE-FQDN/PowerShell/ - the FQDN, not an IP address, for Kerberos), name resolution and that the "
        "PowerShell virtual directory answers on the Exchange server."
    ),
    "access_denied": (
        "Exchange denied access. The account needs an Exchange role that may run this cmdlet (for example Organization "
        "Management). Over WinRM the payload's own connection to Exchange is a second hop: set session_username and "
        "session_password, or use CredSSP/Kerberos delegation."
    ),
    "directory_unreachable": (
        "Exchange could not reach Active Directory. With session=local over WinRM this is the second hop (NTLM, or "
        "Kerberos without delegation, cannot pass the connection's credentials on): use session=remote with "
        "session_username/session_password, or CredSSP, Kerberos delegation or become."
    ),
    "not_found": "An object Exchange was asked for does not exist.",
    "exchange_error": "Exchange rejected the change.",
    "bad_operation": "The payload refused an operation (a bug in the collection, please report it).",
    "unreachable": "The managed host is unreachable.",
}


def error_message(payload, code, detail):
    help_text = _ERROR_HELP.get(code)
    if not help_text:
        return "%s failed on the host: %s" % (payload, detail)
    return "%s Details: %s" % (help_text, detail)


# ---- readable diff -----------------------------------------------------------------------------------------


def diff_text(state):
    """One ``key: value`` line per setting, list items on their own lines: easy to read as a diff."""
    if not state:
        return "state: absent\n"
    lines = []
    for key in sorted(state):
        value = state[key]
        if isinstance(value, (list, tuple)):
            if not value:
                lines.append("%s: []" % key)
            else:
                lines.append("%s:" % key)
                lines.extend("  - %s" % (item,) for item in value)
        elif isinstance(value, bool):
            lines.append("%s: %s" % (key, "true" if value else "false"))
        elif value is None:
            lines.append("%s: (not set)" % key)
        else:
            lines.append("%s: %s" % (key, value))
    return "\n".join(lines) + "\n"
