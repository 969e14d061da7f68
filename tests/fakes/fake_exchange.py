# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake Exchange organisation for the Exchange modules' unit tests.

Two layers:

* ``FakeExchange.invoke(cmdlet, **parameters)`` follows the documented
  contracts of the Exchange cmdlets the payloads use (Microsoft's cmdlet
  reference and ExchangeDsc): documented parameter names only (anything else
  is a ParameterBindingException), ``SERVER\\Name`` receive connector
  identities, one ADPermission entry per extended right with the user's
  *localized* name, its SID, ``Deny`` and ``IsInherited``, inherited entries
  that cannot be removed, permission groups that write their own entries,
  Confirm prompts that fail in a non-interactive session, and a German mode
  where ANONYMOUS LOGON is ``NT-AUTORITÄT\\ANONYMOUS-ANMELDUNG`` and the
  English name is not found.
* ``FakeExchange.handle(payload, parameters, secrets)`` plays
  ``plugins/payloads/exchange.ps1`` the way its PowerShell does: it takes the
  declared parameters (with their ValidateSet and Mandatory rules), the
  cmdlets each mode needs, the operation table and the reader's property
  views from the ``.ps1`` file itself, emulates the session (snap-in, remote
  endpoint, second-hop credentials, RBAC), runs each operation of mode
  ``apply`` as one cmdlet call, and returns the JSON document of the read.
  The ``Get-*`` cmdlets return objects with Exchange's property names, so a
  property the payload misnames reads back empty, as it would on a host.

Values marked "fake data" (SIDs of Exchange's own groups, inherited entries)
only need to be plausible; everything the collection decides on is taken from
the documented behaviour.
"""

from __future__ import annotations

import ipaddress
import re
import uuid

from ansible_collections.mailrelay.smtp.plugins.plugin_utils import _windows_rpc
from ansible_collections.mailrelay.smtp.tests.unit.utils import powershell_syntax
from ansible_collections.mailrelay.smtp.tests.unit.utils.windows_action import PayloadFailure

ANONYMOUS = "S-1-5-7"
AUTHENTICATED = "S-1-5-11"
EVERYONE = "S-1-1-0"
EXCHANGE_SID = "S-1-9-1419165041-1139599005-3936102811-1022490595-%d"  # fake data suffixes
DOMAIN_SID = "S-1-5-21-1004336348-1177238915-682003330-%d"

WELL_KNOWN = {
    ANONYMOUS: {"en": "NT AUTHORITY\\ANONYMOUS LOGON", "de": "NT-AUTORITÄT\\ANONYMOUS-ANMELDUNG"},
    AUTHENTICATED: {"en": "NT AUTHORITY\\Authenticated Users", "de": "NT-AUTORITÄT\\Authentifizierte Benutzer"},
    EVERYONE: {"en": "Everyone", "de": "Jeder"},
    "S-1-5-18": {"en": "NT AUTHORITY\\SYSTEM", "de": "NT-AUTORITÄT\\SYSTEM"},
    EXCHANGE_SID % 10: {"en": "MS Exchange\\Partner Servers", "de": "MS Exchange\\Partner Servers"},
    EXCHANGE_SID % 21: {"en": "MS Exchange\\Hub Transport Servers", "de": "MS Exchange\\Hub Transport Servers"},
    EXCHANGE_SID % 22: {"en": "MS Exchange\\Legacy Exchange Servers", "de": "MS Exchange\\Legacy Exchange Servers"},
    EXCHANGE_SID % 24: {"en": "MS Exchange\\Externally Secured Servers", "de": "MS Exchange\\Externally Secured Servers"},
}
DOMAIN_ACCOUNTS = {
    DOMAIN_SID % 1117: "CORP\\Exchange Servers",
    DOMAIN_SID % 1104: "CORP\\Organization Management",
    DOMAIN_SID % 2201: "CORP\\app-relay",
    DOMAIN_SID % 2202: "CORP\\scanner",
}

EXTENDED_RIGHTS = (
    "ms-Exch-SMTP-Submit", "ms-Exch-SMTP-Accept-Any-Recipient", "ms-Exch-SMTP-Accept-Any-Sender",
    "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender", "ms-Exch-SMTP-Accept-Authentication-Flag",
    "ms-Exch-SMTP-Accept-Exch50", "ms-Exch-Accept-Headers-Routing", "ms-Exch-Accept-Headers-Organization",
    "ms-Exch-Accept-Headers-Forest", "ms-Exch-Accept-Exch50", "ms-Exch-Bypass-Message-Size-Limit",
    "ms-Exch-Bypass-Anti-Spam", "ms-Exch-SMTP-Accept-XShadow", "ms-Exch-Send-Headers-Routing",
)
# What each permission group writes on a receive connector (principal SID -> rights).
GROUP_ACES = {
    "AnonymousUsers": {ANONYMOUS: ("ms-Exch-SMTP-Submit", "ms-Exch-SMTP-Accept-Any-Sender",
                                   "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender", "ms-Exch-Accept-Headers-Routing")},
    "ExchangeUsers": {AUTHENTICATED: ("ms-Exch-SMTP-Submit", "ms-Exch-SMTP-Accept-Any-Recipient",
                                      "ms-Exch-Bypass-Anti-Spam", "ms-Exch-Accept-Headers-Routing")},
    "ExchangeServers": {
        EXCHANGE_SID % 21: ("ms-Exch-SMTP-Submit", "ms-Exch-SMTP-Accept-Any-Recipient", "ms-Exch-Bypass-Anti-Spam",
                            "ms-Exch-Accept-Headers-Routing", "ms-Exch-Accept-Headers-Organization"),
        EXCHANGE_SID % 24: ("ms-Exch-SMTP-Submit", "ms-Exch-SMTP-Accept-Any-Recipient"),
    },
    "ExchangeLegacyServers": {EXCHANGE_SID % 22: ("ms-Exch-SMTP-Submit", "ms-Exch-Accept-Exch50")},
    "Partners": {EXCHANGE_SID % 10: ("ms-Exch-SMTP-Submit", "ms-Exch-Accept-Headers-Routing")},
}
PERMISSION_GROUPS = ("AnonymousUsers", "ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers", "Partners", "Custom")
AUTH_MECHANISMS = ("None", "Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer", "ExternalAuthoritative")

_COMMON = {"Confirm", "WhatIf", "DomainController"}
_RECEIVE_SETTINGS = {
    "AdvertiseClientSettings", "AuthMechanism", "AuthTarpitInterval", "Banner", "BinaryMimeEnabled", "Bindings",
    "ChunkingEnabled", "Comment", "ConnectionInactivityTimeout", "ConnectionTimeout", "DefaultDomain",
    "DeliveryStatusNotificationEnabled", "DomainSecureEnabled", "EightBitMimeEnabled", "EnableAuthGSSAPI", "Enabled",
    "EnhancedStatusCodesEnabled", "ExtendedProtectionPolicy", "Fqdn", "LongAddressesEnabled", "MaxAcknowledgementDelay",
    "MaxHeaderSize", "MaxHopCount", "MaxInboundConnection", "MaxInboundConnectionPercentagePerSource",
    "MaxInboundConnectionPerSource", "MaxLocalHopCount", "MaxLogonFailures", "MaxMessageSize", "MaxProtocolErrors",
    "MaxRecipientsPerMessage", "MessageRateLimit", "MessageRateSource", "OrarEnabled", "PermissionGroups",
    "PipeliningEnabled", "ProtocolLoggingLevel", "RemoteIPRanges", "RequireEHLODomain", "RequireTLS",
    "ServiceDiscoveryFqdn", "SizeEnabled", "SuppressXAnonymousTls", "TarpitInterval", "TlsCertificateName",
    "TlsDomainCapabilities", "TransportRole",
}
_SEND_SETTINGS = {
    "AddressSpaces", "AuthenticationCredential", "CloudServicesMailEnabled", "Comment", "ConnectionInactivityTimeOut",
    "ConnectorType", "DNSRoutingEnabled", "DomainSecureEnabled", "Enabled", "ErrorPolicies", "Force", "ForceHELO",
    "Fqdn", "FrontendProxyEnabled", "IgnoreSTARTTLS", "IsCoexistenceConnector", "IsScopedConnector", "MaxMessageSize",
    "Port", "ProtocolLoggingLevel", "RequireOorg", "RequireTLS", "SmartHostAuthMechanism", "SmartHosts",
    "SmtpMaxMessagesPerConnection", "SourceIPAddress", "SourceTransportServers", "TlsAuthLevel", "TlsCertificateName",
    "TlsDomain", "UseExternalDNSServersEnabled",
}
_AD_PERMISSION = {"Identity", "User", "AccessRights", "ChildObjectTypes", "Deny", "ExtendedRights", "InheritanceType",
                  "InheritedObjectType", "Properties", "Owner", "Instance"}
_DNS = {"ExternalDNSServers", "ExternalDNSAdapterEnabled", "ExternalDNSAdapterGuid", "ExternalDNSProtocolOption",
        "InternalDNSServers", "InternalDNSAdapterEnabled", "InternalDNSAdapterGuid", "InternalDNSProtocolOption"}
# Documented parameters of every cmdlet the payloads may call (Microsoft's Exchange cmdlet reference).
DOCUMENTED_PARAMETERS = {
    "Get-ReceiveConnector": {"Identity", "Server", "DomainController"},
    "New-ReceiveConnector": _COMMON | _RECEIVE_SETTINGS | {"Name", "Server", "Custom", "Client", "Internal", "Internet", "Partner", "Usage"},
    "Set-ReceiveConnector": _COMMON | (_RECEIVE_SETTINGS - {"TransportRole"}) | {"Identity", "Name", "TransportRole"},
    "Remove-ReceiveConnector": _COMMON | {"Identity"},
    "Get-ADPermission": {"Identity", "User", "Owner", "DomainController"},
    "Add-ADPermission": _COMMON | _AD_PERMISSION,
    "Remove-ADPermission": _COMMON | _AD_PERMISSION,
    "Get-SendConnector": {"Identity", "DomainController"},
    "New-SendConnector": _COMMON | _SEND_SETTINGS | {"Name", "Custom", "Internal", "Internet", "Partner", "Usage", "LinkedReceiveConnector"},
    "Set-SendConnector": _COMMON | _SEND_SETTINGS | {"Identity", "Name", "LinkedReceiveConnector"},
    "Remove-SendConnector": _COMMON | {"Identity"},
    "Get-TransportService": {"Identity", "DomainController"},
    "Set-TransportService": _COMMON | _DNS | {"Identity", "MaxOutboundConnections", "MessageExpirationTimeout"},
    "Get-AcceptedDomain": {"Identity", "DomainController"},
    "New-AcceptedDomain": _COMMON | {"Name", "DomainName", "DomainType", "AuthenticationType", "LiveIdInstanceType", "OutboundOnly"},
    "Set-AcceptedDomain": _COMMON | {"Identity", "DomainType", "MakeDefault", "MatchSubDomains", "AddressBookEnabled", "Name", "PendingRemoval"},
    "Remove-AcceptedDomain": _COMMON | {"Identity"},
}

_FAILURE_CODE = (
    (re.compile(r"ManagementObjectNotFound|couldn't be found|could not be found"), "not_found"),
    (re.compile(r"AccessDenied|UnauthorizedAccess|Access is denied|InsufficientAccessRights"), "access_denied"),
    (re.compile(r"ADTransientException|ADOperationException|Active Directory operation failed"), "directory_unreachable"),
)
_KB, _MB, _GB = 1024, 1024 ** 2, 1024 ** 3


class ExchangeError(Exception):
    """A terminating cmdlet error: ``reason`` is the exception type (CategoryInfo.Reason)."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


class Credential:
    """Stands in for a PSCredential handed to -AuthenticationCredential."""

    def __init__(self, username, password):
        self.username = username
        self.password = password


class Principal:
    """ADPermission.User: prints as the directory's (localized) name and carries the SID."""

    def __init__(self, name, sid):
        self.name = name
        self.sid = sid

    def __str__(self):
        return self.name


def _not_found(identity):
    return ExchangeError("ManagementObjectNotFoundException", "The operation couldn't be performed because object '%s' couldn't be found." % identity)


def _find_named(objects, identity):
    """An organisation-wide object (send connector, accepted domain) by its exact name."""
    found = [obj for obj in objects if obj["name"].lower() == str(identity).lower()]
    if not found:
        raise _not_found(identity)
    return found[0]


# ---- the .ps1 files are the contract ------------------------------------------------------------


_PARAMETER = re.compile(r"((?:\[[^\]]*\]\s*)*)\[(\w+(?:\[\])?)\]\$(\w+)")
_TABLE_ROW = re.compile(r"^\s*(\w+) = @\{ Cmdlet = '([\w-]+)'; Parameters = @\(([^)]*)\)(.*)\}\s*$", re.MULTILINE)
_VIEW = re.compile(r"^\$(\w+)View = @\{\n(.*?)\n\}", re.MULTILINE | re.DOTALL)
_VIEW_LINE = re.compile(r"^\s*(Text|List|Flag|Number) = \[ordered\]@\{(.*)\}\s*$", re.MULTILINE)
# How mode apply extends the read's cmdlets: only those of the planned operations (the fake does the
# same; the payload test checks the line).
NEEDED_COMMANDS_RULE = ("$NeededCommands = @($ReadCommands) + @(@($Operations) | ForEach-Object { $OperationTable[[string]$_.op].Cmdlet } "
                        "| Where-Object { $_ } | Sort-Object -Unique)")


def payload_contract(name):
    """What the ``.ps1`` file declares: parameters and their rules, cmdlets, operation table, views."""
    text = _windows_rpc.load_payload(name)
    tree = powershell_syntax.parse(text)
    declared = powershell_syntax.declared_parameters(tree)
    param_block = text[text.index("param("):text.index("\n)\n")]
    choices, mandatory = {}, []
    for match in _PARAMETER.finditer(param_block):
        attributes, parameter = match.group(1), match.group(3)
        choice = re.search(r"\[ValidateSet\(([^)]*)\)\]", attributes)
        if choice:
            choices[parameter] = re.findall(r"'([^']*)'", choice.group(1))
        if "Mandatory = $true" in attributes:
            mandatory.append(parameter)
    secure = re.findall(r"\[securestring\]\$(\w+)", text, re.IGNORECASE)
    block = re.search(r"^\$ReadCommands = @\((.*?)\)$", text, re.MULTILINE)
    read_commands = re.findall(r"'([\w-]+)'", block.group(1)) if block else []
    table = {}
    for match in _TABLE_ROW.finditer(text):
        flags = match.group(4)
        table[match.group(1)] = {
            "cmdlet": match.group(2),
            "parameters": re.findall(r"'(\w+)'", match.group(3)),
            "target": "Target = $true" in flags,
            "confirm": "Confirm = $true" in flags,
            "credential": "Credential = $true" in flags,
        }
    views = {}
    for match in _VIEW.finditer(text):
        views[match.group(1)] = {
            line.group(1): dict(re.findall(r"(\w+) = '(\w+)'", line.group(2))) for line in _VIEW_LINE.finditer(match.group(2))
        }
    return {
        "declared": declared, "choices": choices, "mandatory": mandatory, "secure": secure, "read_commands": read_commands,
        "imports_planned_cmdlets": NEEDED_COMMANDS_RULE in text, "operations": table, "views": views,
    }


def write_commands(contract, operations):
    """The write cmdlets mode apply imports for ``operations``: those of the planned operations only."""
    if not contract["imports_planned_cmdlets"]:
        return []
    table = contract["operations"]
    return sorted({table[op["op"]]["cmdlet"] for op in operations or [] if op.get("op") in table})


def _text(value):
    """``[string]$value`` in PowerShell: $null is the empty string."""
    return "" if value is None else str(value)


def _text_list(value):
    """The payload's ConvertTo-TextList: $null items dropped, a single value becomes a one-item list."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [str(item) for item in items if item is not None]


_CONVERSIONS = {"Text": _text, "List": _text_list, "Flag": bool, "Number": lambda value: int(value or 0)}


def _property(obj, name):
    """PowerShell member access: case-insensitive, $null for a property the object does not have."""
    return next((value for key, value in obj.items() if key.lower() == name.lower()), None)


def convert_to_view(obj, view):
    """The payload's ConvertTo-View: JSON key -> the object's property, converted as the view says."""
    return {key: _CONVERSIONS[kind](_property(obj, prop)) for kind, fields in view.items() for key, prop in fields.items()}


def select_by_name(objects, name, select_all):
    """The payload's Select-ByName: all, or the exact (case-insensitive) name."""
    if select_all:
        return list(objects)
    return [obj for obj in objects if _text(_property(obj, "Name")).lower() == (name or "").lower()]


# ---- value parsing as the cmdlets do it -----------------------------------------------------------


def _parse_size(value, allow_unlimited=False, limit=None):
    text = str(value).strip()
    if allow_unlimited and text.lower() == "unlimited":
        return "Unlimited"
    match = re.match(r"^(\d+)\s*(B|KB|MB|GB|TB)?$", text, re.IGNORECASE)
    if not match:
        raise ExchangeError("ParameterBindingException", "Cannot process argument transformation on parameter 'MaxMessageSize'. %r" % text)
    size = int(match.group(1)) * {"B": 1, "KB": _KB, "MB": _MB, "GB": _GB, "TB": _GB * 1024}[(match.group(2) or "B").upper()]
    if limit and size > limit:
        raise ExchangeError("ArgumentOutOfRangeException", "The value %s is out of range (maximum %d bytes)." % (text, limit))
    return size


def _size_text(size, locale):
    """ByteQuantifiedSize as Exchange prints it, e.g. ``36 MB (37,748,736 bytes)``."""
    if size == "Unlimited":
        return "Unlimited"
    for unit, factor in (("GB", _GB), ("MB", _MB), ("KB", _KB)):
        if size >= factor:
            amount = ("%.3f" % (size / factor)).rstrip("0").rstrip(".")
            break
    else:
        unit, amount = "B", str(size)
    grouped = "{:,}".format(size)
    if locale == "de":
        amount, grouped = amount.replace(".", ","), grouped.replace(",", ".")
    return "%s %s (%s bytes)" % (amount, unit, grouped)


def _parse_range(text):
    value = str(text).strip()
    try:
        if "/" in value:
            network = ipaddress.ip_network(value, strict=True)
            return (int(network.network_address), int(network.broadcast_address), network.version), str(network)
        if "-" in value:
            first, last = (ipaddress.ip_address(part.strip()) for part in value.split("-", 1))
            if first.version != last.version or int(first) > int(last):
                raise ValueError(value)
            return (int(first), int(last), first.version), "%s-%s" % (first, last)
        address = ipaddress.ip_address(value)
        return (int(address), int(address), address.version), str(address)
    except ValueError:
        raise ExchangeError("ParameterBindingException", "Cannot convert value \"%s\" to type \"Microsoft.Exchange.Data.IPRange\"." % value)


def _parse_binding(text):
    match = re.match(r"^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d+)$", str(text).strip())
    if not match:
        raise ExchangeError("ParameterBindingException", "Cannot convert value \"%s\" to type \"Microsoft.Exchange.Data.IPBinding\"." % text)
    address = ipaddress.ip_address(match.group(1) or match.group(2))
    return (address, int(match.group(3)))


def _flags(value, names, parameter):
    items = value if isinstance(value, list) else str(value).split(",")
    result = []
    for item in (i.strip() for i in items):
        match = next((n for n in names if n.lower() == item.lower()), None)
        if match is None:
            raise ExchangeError("ParameterBindingException", "Cannot bind parameter '%s'. Unknown value '%s'." % (parameter, item))
        if match != "None" and match not in result:
            result.append(match)
    return result


def _choice(value, names, parameter):
    match = next((n for n in names if n.lower() == str(value).lower()), None)
    if match is None:
        raise ExchangeError("ParameterBindingException", "Cannot bind parameter '%s'. Unknown value '%s'." % (parameter, value))
    return match


class FakeExchange:
    """One Exchange organisation; state lives in plain dicts that tests may inspect and seed."""

    def __init__(self, servers=("EX01",), locale="en", local_server="EX01"):
        self.locale = locale
        self.local_server = local_server
        self.servers = {s.upper(): s for s in servers}
        self.receive_connectors = []
        self.send_connectors = []
        self.accepted_domains = [{"name": "corp.example", "domain": "corp.example", "type": "Authoritative", "default": True, "match_subdomains": False}]
        self.transport = {
            s.upper(): {"ExternalDNSServers": [], "ExternalDNSAdapterEnabled": True, "ExternalDNSProtocolOption": "Any",
                        "InternalDNSServers": [], "InternalDNSAdapterEnabled": True, "InternalDNSProtocolOption": "Any"}
            for s in servers
        }
        # Session emulation.
        self.snapin_installed = True
        self.endpoints = {"%s.corp.example" % s.lower() for s in servers}
        self.local_fqdn = "%s.corp.example" % local_server.lower()
        self.remote_needs_credential = False  # True: WinRM without delegation (the second hop fails)
        # session=local over WinRM: the snap-in runs in the WinRM logon, and its own calls to Active
        # Directory are a second hop. With NTLM, or Kerberos without delegation, the logon has no
        # credentials to pass on, so every cmdlet that reads the directory fails (Microsoft: "Making the
        # second hop in PowerShell Remoting"; Exchange answers with its ADTransientException /
        # ADOperationException, "Active Directory operation failed", in public reports). True models
        # CredSSP, delegation or become; the exact message text is not from a recorded session.
        self.local_session_delegates = False
        # session=remote: Import-PSSession proxies return deserialized objects (about_Remote_Output:
        # "Deserialized." type names, property bags without methods). A PSCredential cannot cross
        # (MS-PSRP 2.2.5.1.24: a SecureString needs a session key the Exchange endpoint never
        # exchanges), so the send connector's AuthenticationCredential may arrive as its type name
        # only, without UserName. Unconfirmed on a live host: the fake takes the pessimistic side.
        self.remote_credential_unreadable = True
        self._remote = True
        self.accounts = {"CORP\\mailadmin": "Adm1n-Pass"}
        self.denied_cmdlets = set()
        # How the payload's Get-PrincipalSid finds the SID of an ADPermission entry's user: "object"
        # (SecurityPrincipalIdParameter.SecurityIdentifier), "translate" (NTAccount.Translate of the
        # localized name on the host) or "none" (neither works).
        self.sid_source = "object"
        self.calls = []
        self.warnings = []
        self.extra_principals = {}
        for server in servers:
            self._install_default_connectors(server)

    # ---- directory -------------------------------------------------------------------------------
    def principal_name(self, sid):
        if sid in WELL_KNOWN:
            return WELL_KNOWN[sid][self.locale]
        return DOMAIN_ACCOUNTS.get(sid) or self.extra_principals.get(sid) or sid

    def resolve_user(self, user):
        """-User as SecurityPrincipalIdParameter: a SID, or a name as Active Directory spells it."""
        text = str(user).strip()
        if re.match(r"^S-1-\d+(-\d+)+$", text, re.IGNORECASE):
            sid = "S" + text[1:]
            if sid in WELL_KNOWN or sid in DOMAIN_ACCOUNTS or sid in self.extra_principals:
                return sid
        else:
            for sid in list(WELL_KNOWN) + list(DOMAIN_ACCOUNTS) + list(self.extra_principals):
                if self.principal_name(sid).lower() == text.lower():
                    return sid
        raise ExchangeError("ManagementObjectNotFoundException", "The user \"%s\" couldn't be found." % text)

    def translate_name(self, name):
        """NTAccount.Translate on the managed host (same language as the directory)."""
        for sid in list(WELL_KNOWN) + list(DOMAIN_ACCOUNTS) + list(self.extra_principals):
            if self.principal_name(sid).lower() == str(name).lower():
                return sid
        return None

    # ---- seeding helpers for tests ---------------------------------------------------------------
    def _install_default_connectors(self, server):
        defaults = (
            ("Default %s", "HubTransport", ["0.0.0.0:2525", "[::]:2525"], ["ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers"]),
            ("Client Proxy %s", "HubTransport", ["0.0.0.0:465", "[::]:465"], ["ExchangeUsers", "ExchangeServers"]),
            ("Default Frontend %s", "FrontendTransport", ["0.0.0.0:25", "[::]:25"], ["AnonymousUsers", "ExchangeServers", "ExchangeLegacyServers"]),
            ("Outbound Proxy Frontend %s", "FrontendTransport", ["0.0.0.0:717", "[::]:717"], ["ExchangeServers"]),
            ("Client Frontend %s", "FrontendTransport", ["0.0.0.0:587", "[::]:587"], ["ExchangeUsers"]),
        )
        for name, role, bindings, groups in defaults:
            everyone = ["0.0.0.0-255.255.255.255", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]
            self.add_connector(server, name % server, role, bindings, everyone, groups, custom=False)

    def add_connector(self, server, name, role="FrontendTransport", bindings=("0.0.0.0:25",), ranges=("192.0.2.10",),
                      groups=("AnonymousUsers",), auth=("Tls",), custom=True, **settings):
        connector = {
            "server": self.servers[server.upper()],
            "name": name,
            "transport_role": role,
            "bindings": [_parse_binding(b) for b in bindings],
            "ranges": [_parse_range(r) for r in ranges],
            "groups": list(groups),
            "auth": list(auth),
            "require_tls": settings.get("require_tls", False),
            "fqdn": settings.get("fqdn", "%s.corp.example" % server.lower()),
            "max_message_size": settings.get("max_message_size", 36 * _MB),
            "enabled": settings.get("enabled", True),
            "custom": custom,
            "guid": str(uuid.uuid4()),
            "aces": [],
        }
        connector["dn"] = (
            "CN=%s,CN=SMTP Receive Connectors,CN=Protocols,CN=%s,CN=Servers,CN=Exchange Administrative Group,"
            "CN=Administrative Groups,CN=Corp,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=corp,DC=example" % (name, connector["server"])
        )
        # Inherited from the server object (fake data): never removable through the connector.
        connector["aces"].append({"sid": DOMAIN_SID % 1117, "right": "ms-Exch-SMTP-Submit", "deny": False, "inherited": True})
        connector["aces"].append({"sid": DOMAIN_SID % 1104, "right": None, "deny": False, "inherited": True})
        self._write_group_aces(connector, [], connector["groups"])
        self.receive_connectors.append(connector)
        return connector

    def grant(self, connector, sid, right, deny=False, inherited=False):
        connector["aces"].append({"sid": sid, "right": right, "deny": deny, "inherited": inherited})

    def connector(self, server, name):
        return next(c for c in self.receive_connectors if c["server"].lower() == server.lower() and c["name"].lower() == name.lower())

    def explicit_aces(self, connector):
        return sorted((a["sid"], a["right"], a["deny"]) for a in connector["aces"] if not a["inherited"] and a["right"])

    # ---- cmdlets -----------------------------------------------------------------------------------
    def invoke(self, cmdlet, **parameters):
        if cmdlet not in DOCUMENTED_PARAMETERS:
            raise ExchangeError("CommandNotFoundException", "The term '%s' is not recognized as the name of a cmdlet." % cmdlet)
        for name in parameters:
            if name not in DOCUMENTED_PARAMETERS[cmdlet]:
                raise ExchangeError("ParameterBindingException", "A parameter cannot be found that matches parameter name '%s'." % name)
        # Removals and deny entries ask for confirmation (ExchangeDsc passes -Confirm:$false for both);
        # a prompt fails in a non-interactive session.
        prompts = cmdlet.startswith("Remove-") or (cmdlet == "Add-ADPermission" and parameters.get("Deny"))
        if prompts and parameters.get("Confirm", True) is not False:
            raise ExchangeError("HostException", "A command that prompts the user failed because the host program does not support user interaction.")
        self.calls.append((cmdlet, dict(parameters)))
        method = getattr(self, "_" + cmdlet.replace("-", "_").lower())
        args = {k: v for k, v in parameters.items() if k not in _COMMON}
        return method(**args)

    def cmdlets_called(self):
        return [name for name, dummy in self.calls]

    # receive connectors
    def _find_receive(self, identity):
        text = str(identity)
        if text.upper().startswith("CN="):
            found = [c for c in self.receive_connectors if c["dn"].lower() == text.lower()]
        elif "\\" in text:
            server, name = text.split("\\", 1)
            found = [c for c in self.receive_connectors if c["server"].lower() == server.lower() and c["name"].lower() == name.lower()]
        else:
            found = [c for c in self.receive_connectors if c["name"].lower() == text.lower()]
        if not found:
            raise _not_found(text)
        if len(found) > 1:
            raise ExchangeError("ManagementObjectAmbiguousException", "The operation couldn't be performed because '%s' matches multiple entries." % text)
        return found[0]

    def _get_receiveconnector(self, Identity=None, Server=None):
        if Identity is not None:
            found = [self._find_receive(Identity)]
        elif Server is not None:
            if Server.split(".")[0].upper() not in self.servers:
                raise _not_found(Server)
            found = [c for c in self.receive_connectors if c["server"].upper() == Server.split(".")[0].upper()]
        else:
            found = list(self.receive_connectors)
        return [self._receive_object(c) for c in found]

    def _apply_receive_settings(self, connector, settings):
        if "Bindings" in settings:
            connector["bindings"] = [_parse_binding(b) for b in settings["Bindings"]]
        if "RemoteIPRanges" in settings:
            if not settings["RemoteIPRanges"]:
                raise ExchangeError("ArgumentException", "RemoteIPRanges can't be empty.")
            connector["ranges"] = [_parse_range(r) for r in settings["RemoteIPRanges"]]
        if "PermissionGroups" in settings:
            groups = [g for g in _flags(settings["PermissionGroups"], PERMISSION_GROUPS + ("None",), "PermissionGroups") if g != "Custom"]
            self._write_group_aces(connector, connector["groups"], groups)
            connector["groups"] = groups
        if "AuthMechanism" in settings:
            mechanisms = _flags(settings["AuthMechanism"], AUTH_MECHANISMS, "AuthMechanism")
            if "None" in [m.strip() for m in str(settings["AuthMechanism"]).split(",")] and mechanisms:
                raise ExchangeError("ArgumentException", "None can't be combined with other authentication mechanisms.")
            connector["auth"] = mechanisms
        for key, field in (("RequireTLS", "require_tls"), ("Enabled", "enabled")):
            if key in settings:
                if not isinstance(settings[key], bool):
                    raise ExchangeError("ParameterBindingException", "Cannot convert '%s' to System.Boolean." % settings[key])
                connector[field] = settings[key]
        if "Fqdn" in settings:
            connector["fqdn"] = settings["Fqdn"]
        if "MaxMessageSize" in settings:
            connector["max_message_size"] = _parse_size(settings["MaxMessageSize"], limit=2 * _GB)
        if "BasicAuthRequireTLS" in connector["auth"] and not {"BasicAuth", "Tls"} <= set(connector["auth"]):
            raise ExchangeError("DataValidationException", "BasicAuthRequireTLS requires BasicAuth and Tls.")
        if connector["require_tls"] and "Tls" not in connector["auth"]:
            raise ExchangeError("DataValidationException", "RequireTLS can't be set when Tls is not an authentication mechanism.")

    def _check_bindings(self, connector):
        for other in self.receive_connectors:
            if other is connector or other["server"] != connector["server"]:
                continue
            ports = {p for dummy, p in connector["bindings"]}
            if other["transport_role"] != connector["transport_role"] and ports & {p for dummy, p in other["bindings"]}:
                overlap = [a for a, p in connector["bindings"] for b, q in other["bindings"] if p == q and (a == b or a.is_unspecified or b.is_unspecified)]
                if overlap:
                    raise ExchangeError("DataValidationException", "The binding conflicts with %s in another transport service." % other["name"])
            if other["transport_role"] == connector["transport_role"] and set(other["bindings"]) == set(connector["bindings"]) \
                    and {k for k, dummy in other["ranges"]} == {k for k, dummy in connector["ranges"]}:
                raise ExchangeError("DataValidationException", "The values of Bindings and RemoteIPRanges are the same as on %s." % other["name"])

    def _new_receiveconnector(self, Name, Bindings=None, RemoteIPRanges=None, Server=None, TransportRole="HubTransport",
                              Custom=False, Client=False, Internal=False, Internet=False, Partner=False, Usage=None, **settings):
        if sum(bool(x) for x in (Custom, Client, Internal, Internet, Partner, Usage)) != 1:
            raise ExchangeError("ParameterBindingException", "Parameter set cannot be resolved: specify one usage type.")
        if not Bindings or not RemoteIPRanges:
            raise ExchangeError("ParameterBindingException", "Bindings and RemoteIPRanges are required.")
        server = (Server or self.local_server).split(".")[0].upper()
        if server not in self.servers:
            raise _not_found(Server)
        if any(c["server"].upper() == server and c["name"].lower() == Name.lower() for c in self.receive_connectors):
            raise ExchangeError("ADObjectAlreadyExistsException", "A receive connector named %s already exists on %s." % (Name, server))
        role = _choice(TransportRole, ("FrontendTransport", "HubTransport"), "TransportRole")
        connector = self.add_connector(self.servers[server], Name, role, Bindings, RemoteIPRanges, groups=(), auth=("Tls",), custom=True)
        try:
            self._apply_receive_settings(connector, settings)
            self._check_bindings(connector)
        except ExchangeError:
            self.receive_connectors.remove(connector)
            raise
        return self._receive_object(connector)

    def _set_receiveconnector(self, Identity, **settings):
        connector = self._find_receive(Identity)
        if "TransportRole" in settings and settings["TransportRole"] != connector["transport_role"]:
            raise ExchangeError("DataValidationException", "The transport role of a receive connector can't be changed.")
        saved = {k: (list(v) if isinstance(v, list) else v) for k, v in connector.items()}
        saved["aces"] = [dict(a) for a in connector["aces"]]
        try:
            self._apply_receive_settings(connector, settings)
            self._check_bindings(connector)
        except ExchangeError:
            connector.clear()
            connector.update(saved)
            raise

    def _remove_receiveconnector(self, Identity):
        self.receive_connectors.remove(self._find_receive(Identity))

    def _write_group_aces(self, connector, old_groups, new_groups):
        for group in set(old_groups) - set(new_groups):
            for sid, rights in GROUP_ACES.get(group, {}).items():
                connector["aces"] = [a for a in connector["aces"] if a["inherited"] or not (a["sid"] == sid and a["right"] in rights and not a["deny"])]
        for group in new_groups:
            if group in old_groups:
                continue
            for sid, rights in GROUP_ACES.get(group, {}).items():
                for right in rights:
                    if not any(a["sid"] == sid and a["right"] == right and not a["deny"] and not a["inherited"] for a in connector["aces"]):
                        connector["aces"].append({"sid": sid, "right": right, "deny": False, "inherited": False})

    def _receive_object(self, connector):
        """The ReceiveConnector object the cmdlets return (the properties the payload may read)."""
        groups = [g for g in PERMISSION_GROUPS if g in connector["groups"]] + (["Custom"] if connector["custom"] else [])
        auth = [m for m in AUTH_MECHANISMS if m in connector["auth"]]
        return {
            "Identity": "%s\\%s" % (connector["server"], connector["name"]),
            "Name": connector["name"],
            "Server": connector["server"],
            "TransportRole": connector["transport_role"],
            "Bindings": ["[%s]:%d" % (a, p) if a.version == 6 else "%s:%d" % (a, p) for a, p in connector["bindings"]],
            "RemoteIPRanges": [text for dummy, text in connector["ranges"]],
            "PermissionGroups": ", ".join(groups) or "None",
            "AuthMechanism": ", ".join(auth) or "None",
            "RequireTLS": connector["require_tls"],
            "Fqdn": connector["fqdn"],
            "MaxMessageSize": _size_text(connector["max_message_size"], self.locale),
            "Enabled": connector["enabled"],
            "DistinguishedName": connector["dn"],
            "Guid": connector["guid"],
        }

    # AD permissions
    def _ad_object(self, identity):
        text = str(identity)
        if "\\" in text:
            # ADRawEntryIdParameter does not understand SERVER\Name.
            raise _not_found(text)
        return self._find_receive(text)

    def _get_adpermission(self, Identity, User=None, Owner=None):
        connector = self._ad_object(Identity)
        return [{
            "Identity": connector["dn"],
            "User": Principal(self.principal_name(a["sid"]), a["sid"]),
            "ExtendedRights": [a["right"]] if a["right"] else None,
            "AccessRights": "ExtendedRight" if a["right"] else "GenericAll",
            "Deny": a["deny"],
            "IsInherited": a["inherited"],
        } for a in connector["aces"]]

    def _rights(self, ExtendedRights):
        rights = []
        for right in ExtendedRights if isinstance(ExtendedRights, list) else [ExtendedRights]:
            known = next((r for r in EXTENDED_RIGHTS if r.lower() == str(right).lower()), None)
            if known is None:
                raise ExchangeError("ManagementObjectNotFoundException", "The extended right \"%s\" couldn't be found." % right)
            rights.append(known)
        return rights

    def _add_adpermission(self, Identity, User, ExtendedRights=None, Deny=False, **other):
        connector = self._ad_object(Identity)
        sid = self.resolve_user(User)
        for right in self._rights(ExtendedRights or []):
            if not any(a["sid"] == sid and a["right"] == right and a["deny"] == bool(Deny) and not a["inherited"] for a in connector["aces"]):
                connector["aces"].append({"sid": sid, "right": right, "deny": bool(Deny), "inherited": False})

    def _remove_adpermission(self, Identity, User, ExtendedRights=None, Deny=False, **other):
        connector = self._ad_object(Identity)
        sid = self.resolve_user(User)
        for right in self._rights(ExtendedRights or []):
            matches = [a for a in connector["aces"] if a["sid"] == sid and a["right"] == right and a["deny"] == bool(Deny)]
            explicit = [a for a in matches if not a["inherited"]]
            if matches and not explicit:
                raise ExchangeError("InvalidOperationException", "The access control entry for %s is inherited and can't be removed here." % User)
            if not matches:
                self.warnings.append("no access control entry matched %s %s" % (User, right))
            for ace in explicit:
                connector["aces"].remove(ace)

    # send connectors
    def _get_sendconnector(self, Identity=None):
        found = [_find_named(self.send_connectors, Identity)] if Identity is not None else self.send_connectors
        return [self._send_object(c) for c in found]

    def _send_object(self, connector):
        """The SendConnector object the cmdlets return."""
        return {
            "Identity": connector["name"],
            "Name": connector["name"],
            "AddressSpaces": list(connector["address_spaces"]),
            "AuthenticationCredential": connector.get("credential"),
            **{key: connector[key] for key in ("DNSRoutingEnabled", "SmartHosts", "Port", "RequireTLS", "IgnoreSTARTTLS", "TlsAuthLevel", "TlsDomain",
                                               "SmartHostAuthMechanism", "UseExternalDNSServersEnabled", "SourceTransportServers", "Fqdn", "Enabled")},
            "MaxMessageSize": _size_text(connector["MaxMessageSize"], self.locale),
        }

    def _apply_send_settings(self, connector, settings):
        if "AddressSpaces" in settings:
            spaces = []
            for text in settings["AddressSpaces"]:
                match = re.match(r"^(?:(smtp):)?([^;]+)(?:;(\d+))?$", str(text), re.IGNORECASE)
                if not match:
                    raise ExchangeError("ParameterBindingException", "Cannot convert \"%s\" to AddressSpace." % text)
                spaces.append("SMTP:%s;%s" % (match.group(2), match.group(3) or "1"))
            connector["address_spaces"] = spaces
        for key in ("DNSRoutingEnabled", "RequireTLS", "IgnoreSTARTTLS", "UseExternalDNSServersEnabled", "Enabled"):
            if key in settings:
                if not isinstance(settings[key], bool):
                    raise ExchangeError("ParameterBindingException", "Cannot convert '%s' to System.Boolean." % settings[key])
                connector[key] = settings[key]
        if "SmartHosts" in settings:
            hosts = []
            for text in settings["SmartHosts"] or []:
                value = str(text).strip("[]")
                try:
                    hosts.append("[%s]" % ipaddress.ip_address(value))
                except ValueError:
                    if not re.match(r"^[A-Za-z0-9.-]+$", value):
                        raise ExchangeError("ParameterBindingException", "Cannot convert \"%s\" to SmartHost." % text)
                    hosts.append(value)
            connector["SmartHosts"] = hosts
        if "Port" in settings:
            if not 0 < int(settings["Port"]) < 65536:
                raise ExchangeError("ArgumentOutOfRangeException", "Port is out of range.")
            connector["Port"] = int(settings["Port"])
        if "TlsAuthLevel" in settings:
            connector["TlsAuthLevel"] = _choice(settings["TlsAuthLevel"], ("EncryptionOnly", "CertificateValidation", "DomainValidation"), "TlsAuthLevel")
        if "TlsDomain" in settings:
            connector["TlsDomain"] = settings["TlsDomain"]
        if "SmartHostAuthMechanism" in settings:
            mechanisms = ("None", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer", "ExternalAuthoritative")
            connector["SmartHostAuthMechanism"] = _choice(settings["SmartHostAuthMechanism"], mechanisms, "SmartHostAuthMechanism")
        if "AuthenticationCredential" in settings:
            credential = settings["AuthenticationCredential"]
            if not isinstance(credential, Credential):
                raise ExchangeError("ParameterBindingException", "AuthenticationCredential must be a PSCredential.")
            connector["credential"] = credential
        if "SourceTransportServers" in settings:
            servers = []
            for server in settings["SourceTransportServers"]:
                short = str(server).split(".", maxsplit=1)[0].upper()
                if short not in self.servers:
                    raise _not_found(server)
                servers.append(self.servers[short])
            connector["SourceTransportServers"] = servers
        if "MaxMessageSize" in settings:
            connector["MaxMessageSize"] = _parse_size(settings["MaxMessageSize"], allow_unlimited=True)
        if "Fqdn" in settings:
            connector["Fqdn"] = settings["Fqdn"]
        # Documented consistency rules.
        if not connector["DNSRoutingEnabled"] and not connector["SmartHosts"]:
            raise ExchangeError("DataValidationException", "SmartHosts must be set when DNSRoutingEnabled is $false.")
        if connector["DNSRoutingEnabled"] and connector["SmartHosts"]:
            raise ExchangeError("DataValidationException", "SmartHosts must be empty when DNSRoutingEnabled is $true.")
        if connector["SmartHostAuthMechanism"] in ("BasicAuth", "BasicAuthRequireTLS") and connector.get("credential") is None:
            raise ExchangeError("DataValidationException", "AuthenticationCredential is required for basic authentication.")
        if connector["TlsAuthLevel"] and not connector["RequireTLS"]:
            raise ExchangeError("DataValidationException", "TlsAuthLevel can only be set when RequireTLS is $true.")
        if connector["TlsDomain"] and connector["TlsAuthLevel"] != "DomainValidation":
            raise ExchangeError("DataValidationException", "TlsDomain needs TlsAuthLevel DomainValidation.")

    def _new_sendconnector(self, Name, AddressSpaces=None, Usage=None, Custom=False, Internal=False, Internet=False, Partner=False, **settings):
        if not AddressSpaces:
            raise ExchangeError("ParameterBindingException", "AddressSpaces is required.")
        if any(c["name"].lower() == Name.lower() for c in self.send_connectors):
            raise ExchangeError("ADObjectAlreadyExistsException", "A send connector named %s already exists." % Name)
        if Usage is not None:
            _choice(Usage, ("Custom", "Internal", "Internet", "Partner"), "Usage")
        connector = {"name": Name, "address_spaces": [], "DNSRoutingEnabled": True, "SmartHosts": [], "Port": 25, "RequireTLS": False,
                     "IgnoreSTARTTLS": False, "TlsAuthLevel": None, "TlsDomain": None, "SmartHostAuthMechanism": "None", "credential": None,
                     "UseExternalDNSServersEnabled": False, "SourceTransportServers": [self.servers[self.local_server.upper()]],
                     "MaxMessageSize": 35 * _MB, "Fqdn": None, "Enabled": True}
        self._apply_send_settings(connector, dict(settings, AddressSpaces=AddressSpaces))
        self.send_connectors.append(connector)
        return {"Identity": Name}

    def _set_sendconnector(self, Identity, **settings):
        connector = _find_named(self.send_connectors, Identity)
        saved = dict(connector)
        try:
            self._apply_send_settings(connector, settings)
        except ExchangeError:
            connector.clear()
            connector.update(saved)
            raise

    def _remove_sendconnector(self, Identity):
        self.send_connectors.remove(_find_named(self.send_connectors, Identity))

    # transport service
    def _transport(self, Identity):
        short = str(Identity).split(".", maxsplit=1)[0].upper()
        if short not in self.transport:
            raise _not_found(Identity)
        return short

    def _get_transportservice(self, Identity=None):
        key = self._transport(Identity)
        return dict(self.transport[key], Identity=self.servers[key])

    def _set_transportservice(self, Identity, **settings):
        service = self.transport[self._transport(Identity)]
        for key, value in settings.items():
            if key.endswith("DNSServers"):
                addresses = []
                for item in value or []:
                    try:
                        addresses.append(str(ipaddress.ip_address(item)))
                    except ValueError:
                        raise ExchangeError("ParameterBindingException", "Cannot convert \"%s\" to IPAddress." % item)
                service[key] = addresses
            elif key.endswith("AdapterEnabled"):
                if not isinstance(value, bool):
                    raise ExchangeError("ParameterBindingException", "Cannot convert '%s' to System.Boolean." % value)
                service[key] = value
            elif key.endswith("ProtocolOption"):
                service[key] = _choice(value, ("Any", "UseTcpOnly", "UseUdpOnly"), key)
            else:
                raise ExchangeError("NotSupported", "fake does not model %s" % key)

    # accepted domains
    def _get_accepteddomain(self, Identity=None):
        found = [_find_named(self.accepted_domains, Identity)] if Identity is not None else self.accepted_domains
        return [{"Identity": d["name"], "Name": d["name"], "DomainName": d["domain"], "DomainType": d["type"], "Default": d["default"],
                 "MatchSubDomains": d["match_subdomains"]} for d in found]

    def _new_accepteddomain(self, Name, DomainName, DomainType="Authoritative", **other):
        if any(d["name"].lower() == Name.lower() for d in self.accepted_domains):
            raise ExchangeError("ADObjectAlreadyExistsException", "An accepted domain named %s already exists." % Name)
        if any(d["domain"].lower() == DomainName.lower() for d in self.accepted_domains):
            raise ExchangeError("DataValidationException", "The domain %s is already an accepted domain." % DomainName)
        domain_type = _choice(DomainType, ("Authoritative", "InternalRelay", "ExternalRelay"), "DomainType")
        self.accepted_domains.append({"name": Name, "domain": DomainName, "type": domain_type, "default": False, "match_subdomains": False})

    def _set_accepteddomain(self, Identity, DomainType=None, MakeDefault=False, MatchSubDomains=None, **other):
        domain = _find_named(self.accepted_domains, Identity)
        if DomainType is not None:
            domain["type"] = _choice(DomainType, ("Authoritative", "InternalRelay", "ExternalRelay"), "DomainType")
        if MatchSubDomains is not None:
            domain["match_subdomains"] = bool(MatchSubDomains)
        if MakeDefault:
            for other_domain in self.accepted_domains:
                other_domain["default"] = other_domain is domain

    def _remove_accepteddomain(self, Identity):
        domain = _find_named(self.accepted_domains, Identity)
        if domain["default"]:
            raise ExchangeError("InvalidOperationException", "The default accepted domain can't be removed.")
        self.accepted_domains.remove(domain)

    # ---- the payload -------------------------------------------------------------------------------
    def handle(self, payload, parameters, secrets):
        contract = payload_contract(payload)
        self._bind(payload, contract, parameters, secrets)
        mode = parameters["Mode"].lower()
        if mode == "read" and parameters.get("Operations"):
            raise PayloadFailure("MAILRELAY:bad_operation: operations are only run in mode apply")
        needed = contract["read_commands"] + (write_commands(contract, parameters.get("Operations")) if mode == "apply" else [])
        self._connect(parameters, secrets, needed)
        self._remote = parameters.get("Session", "remote") == "remote"
        try:
            if not self._remote and not self.local_session_delegates:
                raise ExchangeError("ADTransientException", "Active Directory operation failed on dc01.corp.example. "
                                    "The supplied credential for 'NT AUTHORITY\\ANONYMOUS LOGON' is invalid.")
            if mode == "apply":
                created = {}
                for operation in parameters.get("Operations") or []:
                    self._run_operation(operation, contract["operations"], secrets, created)
            return self._read(parameters, contract["views"])
        except ExchangeError as exc:
            raise PayloadFailure("MAILRELAY:%s: %s" % (self._code(exc), exc.message))

    @staticmethod
    def _bind(payload, contract, parameters, secrets):
        """PowerShell's parameter binding, plus the collection's own rules for what may be a parameter."""
        for name in list(parameters) + list(secrets):
            if name not in contract["declared"]:
                raise AssertionError("%s does not declare the parameter %s" % (payload, name))
        for name in secrets:
            if name not in contract["secure"]:
                raise AssertionError("%s: %s is not a SecureString parameter" % (payload, name))
        for name, value in parameters.items():
            if name in contract["secure"]:
                raise AssertionError("%s: secret %s passed as a plain parameter" % (payload, name))
            if name in ("AllReceiveConnectors", "IncludePermissions", "AllSendConnectors", "TransportService", "AcceptedDomains"):
                assert isinstance(value, bool), (name, value)
        missing = [name for name in contract["mandatory"] if name not in parameters]
        if missing:
            raise PayloadFailure("Cannot process command because of one or more missing mandatory parameters: %s." % " ".join(missing))
        for name, allowed in contract["choices"].items():
            if name in parameters and not any(str(parameters[name]).lower() == choice.lower() for choice in allowed):
                raise PayloadFailure("Cannot validate argument on parameter '%s'. The argument \"%s\" does not belong to the set \"%s\"."
                                     % (name, parameters[name], ",".join(allowed)))

    def _code(self, exc):
        text = "%s %s" % (exc.reason, exc.message)
        for pattern, code in _FAILURE_CODE:
            if pattern.search(text):
                return code
        return "exchange_error"

    def _connect(self, parameters, secrets, needed):
        if parameters.get("Session", "remote") == "local":
            if not self.snapin_installed:
                raise PayloadFailure("MAILRELAY:snapin_missing: No snap-ins have been registered for Windows PowerShell version 5.")
        else:
            uri = parameters.get("ConnectionUri") or "http://%s/PowerShell/" % self.local_fqdn
            host = re.match(r"^https?://([^/:]+)", uri).group(1).lower()
            if host not in self.endpoints:
                raise PayloadFailure("MAILRELAY:endpoint_unreachable: %s: Connecting to remote server %s failed: "
                                     "WinRM cannot complete the operation." % (uri, host))
            username = parameters.get("Username")
            if username:
                if self.accounts.get(username) != secrets.get("SessionPassword"):
                    raise PayloadFailure("MAILRELAY:access_denied: %s: Access is denied." % uri)
            elif self.remote_needs_credential:
                raise PayloadFailure("MAILRELAY:access_denied: %s: Connecting to remote server failed: Access is denied." % uri)
        denied = [c for c in needed if c in self.denied_cmdlets]
        if denied:
            raise PayloadFailure("MAILRELAY:access_denied: this account may not run %s (Exchange role based access control)" % ", ".join(denied))

    def _run_operation(self, operation, table, secrets, created):
        """The payload's Invoke-Operation; ``created`` maps a new connector's identity to its DN."""
        kind = operation.get("op")
        if kind not in table:
            raise PayloadFailure("MAILRELAY:bad_operation: unknown operation %s" % kind)
        spec = table[kind]
        arguments = {}
        for name, value in (operation.get("parameters") or {}).items():
            if name not in spec["parameters"]:
                raise PayloadFailure("MAILRELAY:bad_operation: %s may not set %s" % (kind, name))
            arguments[name] = value
        if spec["target"]:
            if operation.get("target_new"):
                if operation["target_new"] not in created:
                    raise PayloadFailure("MAILRELAY:bad_operation: %s: %s was not created in this call" % (kind, operation["target_new"]))
                arguments["Identity"] = created[operation["target_new"]]
            elif operation.get("target_dn"):
                arguments["Identity"] = operation["target_dn"]
            else:
                raise PayloadFailure("MAILRELAY:bad_operation: %s needs target_dn or target_new" % kind)
        if operation.get("credential") is not None:
            credential = operation["credential"]
            if not spec["credential"] or credential.get("secret") != "SmartHostPassword" or "SmartHostPassword" not in secrets:
                raise PayloadFailure("MAILRELAY:bad_operation: %s: no smart host credential available" % kind)
            arguments["AuthenticationCredential"] = Credential(credential["username"], secrets["SmartHostPassword"])
        if spec["confirm"]:
            arguments["Confirm"] = False
        output = self.invoke(spec["cmdlet"], **arguments)
        if kind == "new_receive_connector":
            created[operation["identity"]] = _property(output, "DistinguishedName")

    def _payload_sid(self, user):
        """The payload's Get-PrincipalSid: the SID the object carries, else NTAccount.Translate of its name."""
        if user is None:
            return None
        if isinstance(user, Principal):
            if self.sid_source == "object":
                return user.sid
            if self.sid_source == "none":
                return None
        return self.translate_name(str(user))

    def _read(self, parameters, views):
        """The payload's Read-ExchangeState, with the payload's own property views."""
        state = {}
        server = parameters.get("Server") or ""
        if parameters.get("ReceiveConnector") or parameters.get("AllReceiveConnectors"):
            found = select_by_name(self.invoke("Get-ReceiveConnector", Server=server), parameters.get("ReceiveConnector"),
                                   parameters.get("AllReceiveConnectors"))
            with_permissions = bool(parameters.get("IncludePermissions") or not parameters.get("AllReceiveConnectors"))
            state["receive_connectors"] = [self._read_receive_connector(c, views, with_permissions) for c in found]
        if parameters.get("SendConnector") or parameters.get("AllSendConnectors"):
            found = select_by_name(self.invoke("Get-SendConnector"), parameters.get("SendConnector"), parameters.get("AllSendConnectors"))
            state["send_connectors"] = [self._read_send_connector(c, views) for c in found]
        if parameters.get("TransportService"):
            state["transport_service"] = convert_to_view(self.invoke("Get-TransportService", Identity=server), views["TransportService"])
        if parameters.get("AcceptedDomains"):
            state["accepted_domains"] = [convert_to_view(d, views["AcceptedDomain"]) for d in self.invoke("Get-AcceptedDomain")]
        if parameters.get("Principals"):
            state["principal_sids"] = {name: self._payload_sid(name) for name in parameters["Principals"]}
        return state

    def _read_receive_connector(self, connector, views, with_permissions):
        view = convert_to_view(connector, views["ReceiveConnector"])
        view["permissions"] = []
        if with_permissions:
            for entry in self.invoke("Get-ADPermission", Identity=view["distinguished_name"]):
                permission = convert_to_view(entry, views["Permission"])
                if permission["extended_rights"]:  # GenericAll and friends carry no extended right
                    permission["sid"] = self._payload_sid(_property(entry, "User"))
                    view["permissions"].append(permission)
        return view

    def _read_send_connector(self, connector, views):
        view = convert_to_view(connector, views["SendConnector"])
        credential = _property(connector, "AuthenticationCredential")
        if credential is not None and self._remote and self.remote_credential_unreadable:
            credential = "Deserialized.System.Management.Automation.PSCredential"
        # The payload's Read-SendConnector: no credential, a readable user name, or one it cannot read.
        view["username"] = ""
        view["username_readable"] = True
        if credential is not None:
            username = getattr(credential, "username", None)
            view["username"] = _text(username) if username else None
            view["username_readable"] = bool(username)
        return view
