# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IIS 6 SMTP metabase model: properties, flags, normalisation, desired-state plans.

This is the ground floor of the IIS SMTP resources. It knows the metabase
properties of an SMTP virtual server (``/LM/SMTPSVC/n``) and of its domains
(``/LM/SMTPSVC/n/Domain/<name>``), turns module options into property values,
compares them with what the payload's read mode returned, and produces the typed
operations its apply mode executes. It never talks to a host.

Every fact about the metabase that was taken from documentation or public
samples, with its confidence, lives in :data:`FACTS`; the rest of the module
reads values from there, so an inferred value is changed in one place.

Wire format (what the payload exchanges, see plugins/payloads/iis_smtp.ps1):

============  ===============================  =======================================
type          the payload returns              canonical value here
============  ===============================  =======================================
DWORD         signed 32-bit int (ADSI Int32)   unsigned int (0..2**32-1)
BOOL          bool                             bool
STRING        str                              str (unset is "")
MULTISZ       list of str                      tuple of str
BINARY        base64 str                       bytes
IPSECURITY    {grant_by_default, ip_grant,     the same dict
              ip_deny}
SECRET        bool: a value is set             bool (the value is never read back)
============  ===============================  =======================================

Unset properties are ``null`` on the wire and ``None`` here.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections import namedtuple

from ansible_collections.mailrelay.smtp.plugins.module_utils import _iis_ip_security_list

# ---- facts, in one place ----------------------------------------------------------------------
# confidence: "high" = Microsoft's metabase reference or several independent public samples agree;
# "medium" = one good source or a consistent inference from several; "low" = inferred, unverified;
# "unconfirmed" = inferred, and a task that relies on it says so in its result (UNCONFIRMED below).
# Nothing here has been confirmed on a live Windows host yet (docs/windows.md says the same).
Fact = namedtuple("Fact", "key value confidence source")

# "Allow incoming mail to be relayed to this domain" (a remote domain's dialog in IIS 6 Manager) as
# RouteAction bit 0x1000 (DOMAIN_RELAY). UNCONFIRMED: the IIS setup sources confirm only DROP 1,
# SMARTHOST 2, SSL 4, ALIAS 0x10, DELIVER 0x20, DEFAULT 0x40 and ETRN 0x200; 0x1000 comes from the
# RouteAction bit list in public material and the value 4098 (0x1002) seen for relay + smart host.
# The inbound relay job depends on it and fails closed: if IIS ignores the bit, mail for the own
# domains is refused, never relayed elsewhere.
ALLOW_RELAY_TO_DOMAIN = 0x1000
# ServerCommand (metabase ID 1012, VOLATILE DWORD): 1 start, 2 stop, 4 pause, 8 continue. Microsoft's
# reference lists it for web and FTP sites only; the IIS console is said to write it for SMTP too.
SERVER_COMMAND = {"start": 1, "stop": 2}

FACTS = (
    Fact("AuthFlags.anonymous", 0x1, "high", "IIS 6 metabase reference (AuthFlags: AuthAnonymous)"),
    Fact("AuthFlags.basic", 0x2, "high", "IIS 6 metabase reference (AuthFlags: AuthBasic)"),
    Fact("AuthFlags.integrated", 0x4, "high", "IIS 6 metabase reference (AuthNTLM; the GUI's 'Windows Security Package')"),
    Fact("AuthFlags.md5", 0x10, "high", "IIS 6 metabase reference (AuthMD5; not managed, preserved)"),
    Fact("AccessSSLFlags.require_tls", 0x8, "medium",
         "AccessSSL=8 is documented for /LM/SMTPSVC/n; that the GUI's 'Require TLS encryption' sets it is an inference"),
    Fact("AccessSSLFlags.require_128bit", 0x100, "medium", "AccessSSL128=256, documented; cleared when require_tls is false"),
    Fact("RelayForAuth.enabled", 0xFFFFFFFF, "medium",
         "Windows Server 2003 reference says -1, the IIS 6 SDK says 1; any non-zero value is read as enabled"),
    Fact("SmartHostType.none", 0, "high", "SmartHostType reference"),
    Fact("SmartHostType.dns_first", 1, "high", "SmartHostType reference ('attempt direct delivery first')"),
    Fact("SmartHostType.always", 2, "high", "SmartHostType reference"),
    Fact("ServerState.starting", 1, "high", "ServerState reference"),
    Fact("ServerState.started", 2, "high", "ServerState reference"),
    Fact("ServerState.stopping", 3, "high", "ServerState reference"),
    Fact("ServerState.stopped", 4, "high", "ServerState reference"),
    Fact("ServerState.pausing", 5, "high", "ServerState reference"),
    Fact("ServerState.paused", 6, "high", "ServerState reference"),
    Fact("ServerState.continuing", 7, "high", "ServerState reference"),
    Fact("RouteAction.drop", 0x1, "medium", "RouteAction bit list (windows-facts.md)"),
    Fact("RouteAction.smarthost", 0x2, "medium", "RouteAction bit list (windows-facts.md)"),
    Fact("RouteAction.ssl", 0x4, "medium", "RouteAction bit list; RouteAction=268 for basic auth + TLS"),
    Fact("RouteAction.sasl", 0x8, "medium", "RouteAction bit list; RouteAction=268 for basic auth + TLS"),
    Fact("RouteAction.alias", 0x10, "medium", "RouteAction bit list; alias domain sample script sets 16"),
    Fact("RouteAction.deliver", 0x20, "medium", "RouteAction bit list"),
    Fact("RouteAction.default", 0x40, "low", "RouteAction bit list; 'default domain = 64' is inferred"),
    Fact("RouteAction.auth_ntlm", 0x80, "medium", "RouteAction bit list"),
    Fact("RouteAction.auth_cleartext", 0x100, "medium", "RouteAction bit list; RouteAction=268 for basic auth + TLS"),
    Fact("RouteAction.etrn_cmd", 0x200, "medium", "RouteAction bit list"),
    Fact("RouteAction.ip_relay", 0x400, "medium", "RouteAction bit list"),
    Fact("RouteAction.auth_relay", 0x800, "medium", "RouteAction bit list"),
    Fact("RouteAction.domain_relay", ALLOW_RELAY_TO_DOMAIN, "unconfirmed",
         "RouteAction bit list; that 'allow incoming mail to be relayed to this domain' sets it (4098 = 0x1002) is inferred; "
         "the IIS setup sources confirm only 1, 2, 4, 0x10, 0x20, 0x40 and 0x200"),
    Fact("RouteAction.cside_turn", 0x2000, "medium", "RouteAction bit list"),
    Fact("RouteAction.cside_etrn", 0x4000, "medium", "RouteAction bit list"),
    Fact("RouteAction.disable_etrn", 0x8000, "medium", "RouteAction bit list"),
    Fact("RouteAction.chunking", 0x10000, "medium", "RouteAction bit list"),
    Fact("RouteAction.auth_kerberos", 0x200000, "medium", "RouteAction bit list"),
    Fact("outbound.basic", 0x108, "medium", "AUTH_CLEARTEXT|SASL, from RouteAction=268 (basic + TLS) minus SSL"),
    Fact("outbound.integrated", 0x88, "low", "AUTH_NTLM|SASL by analogy with basic; unverified"),
    Fact("Fqdn.keep_override", "UpdatedFQDN", "medium", "windows-facts.md: UpdatedFQDN=True keeps FullyQualifiedDomainName"),
    Fact("DefaultDomain.keep_override", "UpdatedDefaultDomain", "medium", "windows-facts.md: UpdatedDefaultDomain=True keeps DefaultDomain"),
    Fact("ServerBindings.all_unassigned", "", "high", "ServerBindings reference: empty IP = all unassigned"),
    Fact("ServerBindings.unique", True, "high", "the same IP:port on two virtual servers stops the second from starting"),
    Fact("RelayIpList.unset_means", "only the list below, empty", "medium",
         "Salt win_smtp_server docstring: None is the restrictive 'Only the list below' with an empty list"),
    Fact("RelayIpList.empty_means", "all except the list below", "high", "Salt docstring and facts vector V6"),
    Fact("RelayIpList.access", "wmi", "high", "public scripts and Salt write IIsSmtpServerSetting.RelayIpList (uint8[]) then Put()"),
    Fact("IPSecurity.access", "adsi", "medium", "public scripts: IIsIPSecurity object through InvokeMember, then CommitChanges"),
    Fact("server.create", "Children.Add(n, 'IIsSmtpServer') + ServerComment/ServerBindings + CommitChanges", "medium",
         "windows-facts.md (next free index, Create, SetInfo)"),
    Fact("server.start_stop", "ServerCommand 1/2, then ADSI Start()/Stop() if ServerState does not follow", "unconfirmed",
         "ServerCommand reference (ID 1012) and the ADSI methods both list web and FTP sites only; the IIS console writes "
         "ServerCommand for SMTP (issue 15 review), unverified"),
    Fact("server.child_keys", (("Domain", "IIsConfigObject"), ("Root", "IIsSmtpVirtualDir")), "medium",
         "IIS 6 metabase reference: IIsSmtpDomain keys live under /LM/SMTPSVC/n/Domain and each server has a ROOT "
         "IIsSmtpVirtualDir, as IIS 6 Manager creates them; the Domain container's class IIsConfigObject is inferred"),
    Fact("Root.default_path", "C:\\Inetpub\\mailroot", "medium", "the SMTP Server feature's mail root, used when mail_root is not given"),
    Fact("server.default_index", 1, "high",
         "Exchange 2003 SMTP design guide: /LM/SmtpSvc/1 is the default virtual server; Salt's win_smtp_server and Chef's "
         "iis_smtp address SmtpSvc/1 by default, so deleting it breaks them"),
    Fact("domain.create", "Children.Add(name, 'IIsSmtpDomain') + RouteAction + CommitChanges", "medium", "KB Q183476 via windows-facts.md"),
    Fact("SSLCertHash.location", "/LM/SMTPSVC/n", "unconfirmed",
         "the metabase reference lists SSLCertHash for SMTP only on the read-only WMI class IIsSmtpServer; that writing it "
         "through ADSI selects the STARTTLS certificate is unverified"),
    Fact("mail_root.layout", ("Queue", "Pickup", "Drop", "Badmail"), "low",
         "QueueDirectory/PickupDirectory/DropDirectory/BadMailDirectory as subfolders of one root, as the wizard does; unverified"),
    Fact("open_relay.broad_prefix", 24, "policy", "this collection's rule: a relay grant wider than /24 counts as broad"),
    # The IPSECLIST blob (module_utils/_iis_ip_security_list.py keeps the codec; its inferences are listed here).
    Fact("IPSECLIST.entry_count", "mask + addresses", "high", "vectors V2/V3: byte 44 is N + 1 for N hosts"),
    Fact("IPSECLIST.header_dword16", 1, "low", "1 at offset 16 in every public sample; meaning unknown"),
    Fact("IPSECLIST.grant_by_default", "a grant list with entries means 'only the list below'", "medium",
         "public samples (V1-V5); no sample holds both lists"),
    Fact("IPSECLIST.empty_only_list", "one /32 grant entry without an address", "medium", "vector V1, the template of public scripts"),
    Fact("IPSECLIST.entry_per_mask", "one entry per mask, most specific first, addresses ascending", "low",
         "inferred: N hosts share one /32 entry in the samples; networks (V8) are derived"),
)
_FACTS = {fact.key: fact for fact in FACTS}


def fact(key):
    return _FACTS[key].value


def _flag_table(prefix):
    return {f.key[len(prefix):]: f.value for f in FACTS if f.key.startswith(prefix)}


AUTH_FLAGS = {name: value for name, value in _flag_table("AuthFlags.").items() if name != "md5"}
AUTH_MANAGED_MASK = sum(AUTH_FLAGS.values())
REQUIRE_TLS = fact("AccessSSLFlags.require_tls")
TLS_MANAGED_MASK = REQUIRE_TLS | fact("AccessSSLFlags.require_128bit")
RELAY_FOR_AUTH_ON = fact("RelayForAuth.enabled")
SMART_HOST_TYPES = _flag_table("SmartHostType.")
SMART_HOST_TYPE_NAMES = {value: name for name, value in SMART_HOST_TYPES.items()}
SERVER_STATES = {value: name for name, value in _flag_table("ServerState.").items()}
ROUTE_ACTION = _flag_table("RouteAction.")
OUTBOUND_AUTH = {"anonymous": 0, "basic": fact("outbound.basic"), "integrated": fact("outbound.integrated")}
OUTBOUND_MANAGED_MASK = ROUTE_ACTION["ssl"] | ROUTE_ACTION["sasl"] | ROUTE_ACTION["auth_ntlm"] | ROUTE_ACTION["auth_cleartext"] | ROUTE_ACTION["auth_kerberos"]
DOMAIN_MANAGED_MASK = OUTBOUND_MANAGED_MASK | ROUTE_ACTION["smarthost"] | ROUTE_ACTION["alias"] | ALLOW_RELAY_TO_DOMAIN
SERVER_CHILD_KEYS = fact("server.child_keys")
DEFAULT_SERVER_INDEX = fact("server.default_index")

# What a task's result says when the task relied on an unconfirmed fact (key of FACTS -> text).
UNCONFIRMED = {
    "RouteAction.domain_relay": "allow_relay is written as RouteAction bit 0x1000; that IIS relays to the domain "
                                "because of this bit is inferred, not confirmed on a live host",
    "SSLCertHash.location": "tls_certificate_thumbprint is written as SSLCertHash through ADSI; Microsoft lists "
                            "SSLCertHash for SMTP only on the read-only WMI class, so IIS may ignore it",
    "server.start_stop": "start and stop write ServerCommand (1 start, 2 stop) and fall back to ADSI Start()/Stop(); "
                         "Microsoft documents both for web and FTP sites only",
}
BROAD_PREFIX = fact("open_relay.broad_prefix")
MAIL_ROOT_FOLDERS = fact("mail_root.layout")
DWORD_MAX = 0xFFFFFFFF

# ---- properties ------------------------------------------------------------------------------
PropertySpec = namedtuple("PropertySpec", "name type via")
TYPES = ("DWORD", "BOOL", "STRING", "MULTISZ", "BINARY", "IPSECURITY", "SECRET")

SERVER_PROPERTIES = tuple(PropertySpec(*item) for item in (
    ("ServerComment", "STRING", "adsi"),
    ("ServerBindings", "MULTISZ", "adsi"),
    ("ServerAutoStart", "BOOL", "adsi"),
    ("ServerState", "DWORD", "adsi"),
    ("DefaultDomain", "STRING", "adsi"),
    ("UpdatedDefaultDomain", "BOOL", "adsi"),
    ("FullyQualifiedDomainName", "STRING", "adsi"),
    ("UpdatedFQDN", "BOOL", "adsi"),
    ("AuthFlags", "DWORD", "adsi"),
    ("AccessSSLFlags", "DWORD", "adsi"),
    ("RelayForAuth", "DWORD", "adsi"),
    ("RelayIpList", "BINARY", "wmi"),
    ("IPSecurity", "IPSECURITY", "adsi"),
    ("SmartHost", "STRING", "adsi"),
    ("SmartHostType", "DWORD", "adsi"),
    ("RemoteSmtpPort", "DWORD", "adsi"),
    ("RouteAction", "DWORD", "adsi"),
    ("RouteUserName", "STRING", "adsi"),
    ("RoutePassword", "SECRET", "adsi"),
    ("MaxMessageSize", "DWORD", "adsi"),
    ("MasqueradeDomain", "STRING", "adsi"),
    ("SSLCertHash", "BINARY", "adsi"),
    ("QueueDirectory", "STRING", "adsi"),
    ("PickupDirectory", "STRING", "adsi"),
    ("DropDirectory", "STRING", "adsi"),
    ("BadMailDirectory", "STRING", "adsi"),
))
DOMAIN_PROPERTIES = tuple(PropertySpec(*item) for item in (
    ("RouteAction", "DWORD", "adsi"),
    ("RouteActionString", "STRING", "adsi"),
    ("RouteUserName", "STRING", "adsi"),
    ("RoutePassword", "SECRET", "adsi"),
))
SERVER_SPEC = {spec.name: spec for spec in SERVER_PROPERTIES}
DOMAIN_SPEC = {spec.name: spec for spec in DOMAIN_PROPERTIES}
READ_ONLY = frozenset(("ServerState",))
MAIL_ROOT_PROPERTIES = ("QueueDirectory", "PickupDirectory", "DropDirectory", "BadMailDirectory")


class MetabaseError(ValueError):
    """Bad input or an unexpected host document; the message names the option or property."""


def property_request(specs):
    """The payload's list of properties to read: ``["Name:TYPE:via", ...]``."""
    return ["%s:%s:%s" % (spec.name, spec.type, spec.via) for spec in specs]


def read_parameters(domains_of=""):
    """Parameters of iis_smtp.ps1 that say what to read (in both modes: apply returns the state after)."""
    return {
        "ServerProperties": property_request(SERVER_PROPERTIES),
        "DomainProperties": property_request(DOMAIN_PROPERTIES),
        "DomainsOf": domains_of,
    }


# ---- wire <-> canonical ----------------------------------------------------------------------
def from_wire(spec, value):
    """Canonical value of property ``spec`` from the payload's JSON value."""
    if value is None:
        return None
    try:
        if spec.type == "DWORD":
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError("not an integer")
            return value & DWORD_MAX
        if spec.type in ("BOOL", "SECRET"):
            if not isinstance(value, bool):
                raise TypeError("not a boolean")
            return value
        if spec.type == "STRING":
            if not isinstance(value, str):
                raise TypeError("not a string")
            return value
        if spec.type == "MULTISZ":
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise TypeError("not a list of strings")
            return tuple(value)
        if spec.type == "BINARY":
            return base64.b64decode(value.encode("ascii"), validate=True)
        if spec.type == "IPSECURITY":
            return {
                "grant_by_default": bool(value.get("grant_by_default")),
                "ip_grant": list(value.get("ip_grant") or []),
                "ip_deny": list(value.get("ip_deny") or []),
            }
    except (TypeError, AttributeError, ValueError, binascii.Error) as exc:
        raise MetabaseError("property %s: the host returned %r (%s)" % (spec.name, value, exc))
    raise MetabaseError("property %s has unknown type %s" % (spec.name, spec.type))


def to_wire(spec, value):
    """The JSON value a set_property operation carries for canonical ``value`` of property ``spec``."""
    if spec.type == "DWORD":
        value = int(value) & DWORD_MAX
        # ADSI takes a DWORD as a signed Int32: 0xFFFFFFFF travels as -1.
        return value - 0x100000000 if value > 0x7FFFFFFF else value
    if spec.type == "BOOL":
        return bool(value)
    if spec.type == "STRING":
        return "" if value is None else str(value)
    if spec.type == "MULTISZ":
        return list(value or ())
    if spec.type == "BINARY":
        return base64.b64encode(bytes(value or b"")).decode("ascii")
    if spec.type == "IPSECURITY":
        return dict(value)
    raise MetabaseError("property %s of type %s cannot be written as a value" % (spec.name, spec.type))


class Domain:
    def __init__(self, name, props):
        self.name = name
        self.props = props


class Server:
    def __init__(self, index, props, domains=None):
        self.index = index
        self.props = props
        self.domains = domains  # {lower-case name: Domain} or None when not read

    @property
    def name(self):
        return self.props.get("ServerComment") or ""


class HostState:
    def __init__(self, servers, service_status=None):
        self.servers = servers
        self.service_status = service_status

    def named(self, name):
        """The virtual server whose display name is ``name`` (case-insensitive), or None."""
        found = [server for server in self.servers if server.name.lower() == name.lower()]
        if len(found) > 1:
            raise MetabaseError("%d virtual servers are named %r (indexes %s); rename one in IIS 6 Manager" % (
                len(found), name, ", ".join(str(server.index) for server in found)))
        return found[0] if found else None


def _decode_props(raw, specs, where):
    if not isinstance(raw, dict):
        raise MetabaseError("%s: properties missing from the host's answer" % where)
    return {spec.name: from_wire(spec, raw.get(spec.name)) for spec in specs}


def decode_document(document):
    """HostState from the JSON document iis_smtp.ps1 returns (in either mode)."""
    if not isinstance(document, dict) or not isinstance(document.get("servers"), list):
        raise MetabaseError("the host's answer has no 'servers' list: %r" % (document,))
    servers = []
    for raw in document["servers"]:
        index = raw.get("index") if isinstance(raw, dict) else None
        if not isinstance(index, int):
            raise MetabaseError("virtual server without an index in the host's answer: %r" % (raw,))
        props = _decode_props(raw.get("properties"), SERVER_PROPERTIES, "virtual server %d" % index)
        domains = None
        if raw.get("domains") is not None:
            domains = {}
            for item in raw["domains"]:
                name = item.get("name")
                domains[name.lower()] = Domain(name, _decode_props(item.get("properties"), DOMAIN_PROPERTIES, "domain %s" % name))
        servers.append(Server(index, props, domains))
    service = document.get("service") or {}
    return HostState(sorted(servers, key=lambda server: server.index), service.get("status"))


# ---- normalisation helpers -------------------------------------------------------------------
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_THUMBPRINT = re.compile(r"^[0-9A-F]{40}$")


def is_hostname(text):
    labels = text.split(".")
    return 0 < len(text) <= 253 and all(_LABEL.match(label) for label in labels)


def normalize_domain(option, value, wildcard=False):
    text = str(value).strip().lower().rstrip(".")
    bare = text[2:] if wildcard and text.startswith("*.") else text
    if wildcard and text == "*":
        return text
    if not is_hostname(bare) or "." not in bare and not wildcard:
        raise MetabaseError("%s: %r is not a domain name" % (option, value))
    return text


def normalize_smart_host(option, value):
    """``10.0.0.2`` and ``[10.0.0.2]`` become ``[10.0.0.2]`` (brackets: no MX lookup); names stay names."""
    text = str(value).strip()
    if not text:
        return ""
    bracketed = text.startswith("[") and text.endswith("]")
    inner = text[1:-1] if bracketed else text
    try:
        return "[%s]" % ipaddress.IPv4Address(inner)
    except ValueError:
        pass
    if ":" in inner:
        raise MetabaseError("%s: %r: a port does not belong here; the outbound port is a separate option" % (option, value))
    if not is_hostname(inner.lower()):
        raise MetabaseError("%s: %r is neither an IPv4 address nor a host name" % (option, value))
    return "[%s]" % inner.lower() if bracketed else inner.lower()


def parse_binding(text):
    """``(address, port)`` from a ServerBindings string ``IP:Port:Host``; address "" is all unassigned."""
    parts = str(text).split(":")
    if len(parts) < 2 or not parts[1].isdigit():
        raise MetabaseError("ServerBindings entry %r is not 'IP:Port:Host'" % (text,))
    return parts[0], int(parts[1])


def format_binding(address, port):
    return "%s:%d:" % (address, port)


def describe_binding(address, port):
    return "%s:%d" % (address or "*", port)


def _bindings_of(props):
    return tuple(sorted(parse_binding(item) for item in props.get("ServerBindings") or ()))


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def flag_names(value, table):
    """Names of the bits of ``value`` in ``table``, plus ``0x...`` for bits without a name."""
    value = value or 0
    names = [name for name, bit in sorted(table.items(), key=lambda item: item[1]) if value & bit]
    unknown = value & ~sum(table.values())
    if unknown:
        names.append("0x%x" % unknown)
    return names


# ---- server settings: how each option reads from and writes to the properties -------------------
class _Undecodable:
    """A current value that could not be decoded; never equal to a desired value."""

    def __init__(self, reason):
        self.reason = reason

    def __eq__(self, other):
        return False

    def describe(self):
        return {"error": self.reason}


class _Unset(_Undecodable):
    """A list the virtual server does not set itself; also never equal to a desired value."""

    def describe(self):
        return "(not set: %s)" % self.reason


def _read_access_list(props, name):
    value = props.get(name)
    if name == "RelayIpList":
        if value is None:
            # Not set: "only the list below" with nobody on it (Salt's None), the same as the explicit
            # deny-by-default empty list, so such a server is not reported as changed on every run.
            return _iis_ip_security_list.AccessList(False, [])
        try:
            return _iis_ip_security_list.decode_blob(value)
        except _iis_ip_security_list.IpSecurityListError as exc:
            return _Undecodable("RelayIpList cannot be decoded: %s" % exc)
    if value is None:
        return _Unset("inherited; IIS lets every computer connect by default")
    try:
        return _iis_ip_security_list.decode_strings(value["grant_by_default"], value["ip_grant"], value["ip_deny"])
    except _iis_ip_security_list.IpSecurityListError as exc:
        return _Undecodable("IPSecurity cannot be decoded: %s" % exc)


def _outbound_auth(route_action):
    route_action = route_action or 0
    if route_action & ROUTE_ACTION["auth_cleartext"]:
        return "basic"
    if route_action & (ROUTE_ACTION["auth_ntlm"] | ROUTE_ACTION["auth_kerberos"]):
        return "integrated"
    return "anonymous"


def _mail_root_dirs(root):
    root = root.rstrip("\\")
    return tuple("%s\\%s" % (root, folder) for folder in MAIL_ROOT_FOLDERS)


def _read_mail_root(props):
    return tuple((props.get(name) or "").lower() for name in MAIL_ROOT_PROPERTIES)


def _set_bits(props, name, mask, bits):
    return {name: ((props.get(name) or 0) & ~mask) | bits}


# (option, reader(props) -> comparable value, writer(desired, props) -> {property: canonical value})
SERVER_SETTINGS = (
    ("bindings", _bindings_of, lambda value, props: {"ServerBindings": tuple(format_binding(a, p) for a, p in value)}),
    ("auto_start", lambda props: bool(props.get("ServerAutoStart")), lambda value, props: {"ServerAutoStart": value}),
    ("default_domain", lambda props: _lower(props.get("DefaultDomain")) or None if props.get("UpdatedDefaultDomain") else None,
     lambda value, props: {"DefaultDomain": value, fact("DefaultDomain.keep_override"): True}),
    ("fqdn", lambda props: _lower(props.get("FullyQualifiedDomainName")) or None if props.get("UpdatedFQDN") else None,
     lambda value, props: {"FullyQualifiedDomainName": value, fact("Fqdn.keep_override"): True}),
    ("authentication", lambda props: tuple(flag_names((props.get("AuthFlags") or 0) & AUTH_MANAGED_MASK, AUTH_FLAGS)),
     lambda value, props: _set_bits(props, "AuthFlags", AUTH_MANAGED_MASK, sum(AUTH_FLAGS[name] for name in value))),
    ("require_tls", lambda props: bool((props.get("AccessSSLFlags") or 0) & REQUIRE_TLS),
     lambda value, props: _set_bits(props, "AccessSSLFlags", TLS_MANAGED_MASK, REQUIRE_TLS if value else 0)),
    ("relay_for_authenticated", lambda props: bool(props.get("RelayForAuth")),
     lambda value, props: {"RelayForAuth": RELAY_FOR_AUTH_ON if value else 0}),
    ("relay_ip_list", lambda props: _read_access_list(props, "RelayIpList"),
     lambda value, props: {"RelayIpList": _iis_ip_security_list.encode_blob(value)}),
    ("connection_ip_list", lambda props: _read_access_list(props, "IPSecurity"),
     lambda value, props: {"IPSecurity": _iis_ip_security_list.encode_strings(value)}),
    ("smart_host", lambda props: _lower(props.get("SmartHost") or ""), lambda value, props: {"SmartHost": value}),
    ("smart_host_type", lambda props: props.get("SmartHostType") or 0, lambda value, props: {"SmartHostType": value}),
    ("outbound_port", lambda props: props.get("RemoteSmtpPort"), lambda value, props: {"RemoteSmtpPort": value}),
    ("outbound_tls", lambda props: bool((props.get("RouteAction") or 0) & ROUTE_ACTION["ssl"]),
     lambda value, props: _set_bits(props, "RouteAction", ROUTE_ACTION["ssl"], ROUTE_ACTION["ssl"] if value else 0)),
    ("outbound_authentication", lambda props: _outbound_auth(props.get("RouteAction")),
     lambda value, props: _set_bits(props, "RouteAction", OUTBOUND_MANAGED_MASK & ~ROUTE_ACTION["ssl"], OUTBOUND_AUTH[value])),
    ("outbound_username", lambda props: props.get("RouteUserName") or "", lambda value, props: {"RouteUserName": value}),
    ("max_message_size", lambda props: props.get("MaxMessageSize"), lambda value, props: {"MaxMessageSize": value}),
    ("masquerade_domain", lambda props: _lower(props.get("MasqueradeDomain") or ""), lambda value, props: {"MasqueradeDomain": value}),
    ("mail_root", _read_mail_root,
     lambda value, props: dict(zip(MAIL_ROOT_PROPERTIES, _mail_root_dirs(value)))),
    ("tls_certificate_thumbprint", lambda props: (props.get("SSLCertHash") or b"").hex().upper(),
     lambda value, props: {"SSLCertHash": bytes.fromhex(value)}),
)
# How the desired value of an option compares with the reader's value, where the two differ in form
# (build_server_spec already puts every other option in the reader's form).
_SERVER_COMPARE = {
    "mail_root": lambda value: tuple(item.lower() for item in _mail_root_dirs(value)),
}


# ---- desired server --------------------------------------------------------------------------
SERVER_STATES_WANTED = ("present", "absent", "started", "stopped")


def _optional_domain(params, option, wildcard=False):
    value = params.get(option)
    if value is None:
        return None
    if value == "":
        return ""
    return normalize_domain(option, value, wildcard)


def _access_list_option(params, option):
    value = params.get(option)
    if value is None:
        return None
    entries = []
    for position, text in enumerate(value.get("entries") or []):
        try:
            entries.append(_iis_ip_security_list.parse_entry(text))
        except _iis_ip_security_list.IpSecurityListError as exc:
            raise MetabaseError("%s.entries[%d]: %s" % (option, position, exc))
    return _iis_ip_security_list.AccessList(bool(value.get("grant_by_default")), entries)


def build_server_spec(params):
    """Validate and normalise iis_smtp_server options; :class:`MetabaseError` names the option."""
    name = (params.get("name") or "").strip()
    if not name:
        raise MetabaseError("name: the virtual server's display name must not be empty")
    spec = {"name": name, "state": params.get("state") or "present"}
    if spec["state"] not in SERVER_STATES_WANTED:
        raise MetabaseError("state: %r is not one of %s" % (spec["state"], ", ".join(SERVER_STATES_WANTED)))
    spec["auto_start"] = {"started": True, "stopped": False}.get(spec["state"])

    bindings = params.get("bindings")
    if bindings is not None:
        if not bindings:
            raise MetabaseError("bindings: at least one binding is needed")
        normalized = set()
        for position, binding in enumerate(bindings):
            where = "bindings[%d]" % position
            address = str(binding.get("address") or "").strip()
            port = binding.get("port", 25)
            if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
                raise MetabaseError("%s.port: %r is not a TCP port" % (where, port))
            if address in ("", "*", "0.0.0.0"):
                if not params.get("allow_all_unassigned"):
                    raise MetabaseError(
                        "%s.address: %r binds all unassigned addresses; give one address "
                        "(or set allow_all_unassigned: true)" % (where, address))
                address = fact("ServerBindings.all_unassigned")
            else:
                try:
                    ip = ipaddress.IPv4Address(address)
                except ValueError:
                    raise MetabaseError("%s.address: %r is not an IPv4 address" % (where, address))
                if ip.is_multicast or ip.is_unspecified:
                    raise MetabaseError("%s.address: %s is not a unicast address" % (where, address))
                address = str(ip)
            normalized.add((address, port))
        spec["bindings"] = tuple(sorted(normalized))
    else:
        spec["bindings"] = None

    spec["default_domain"] = _optional_domain(params, "default_domain")
    spec["fqdn"] = _optional_domain(params, "fqdn")
    spec["masquerade_domain"] = _optional_domain(params, "masquerade_domain")
    authentication = params.get("authentication")
    spec["authentication"] = None if authentication is None else tuple(name for name in AUTH_FLAGS if name in authentication)
    for option in ("require_tls", "relay_for_authenticated", "outbound_tls"):
        spec[option] = params.get(option)
    spec["relay_ip_list"] = _access_list_option(params, "relay_ip_list")
    spec["connection_ip_list"] = _access_list_option(params, "connection_ip_list")

    smart_host = params.get("smart_host")
    spec["smart_host"] = None if smart_host is None else normalize_smart_host("smart_host", smart_host)
    smart_host_type = params.get("smart_host_type")
    if smart_host_type is None and smart_host is not None:
        smart_host_type = "always" if spec["smart_host"] else "none"
    if smart_host_type is not None and smart_host_type not in SMART_HOST_TYPES:
        raise MetabaseError("smart_host_type: %r is not one of %s" % (smart_host_type, ", ".join(SMART_HOST_TYPES)))
    if smart_host_type in ("always", "dns_first") and spec["smart_host"] == "":
        raise MetabaseError("smart_host_type: %s needs a smart_host" % smart_host_type)
    spec["smart_host_type"] = None if smart_host_type is None else SMART_HOST_TYPES[smart_host_type]

    for option, low, high in (("outbound_port", 1, 65535), ("max_message_size", 1, DWORD_MAX)):
        value = params.get(option)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            raise MetabaseError("%s: %r must be an integer from %d to %d" % (option, value, low, high))
        spec[option] = value

    spec["outbound_authentication"] = params.get("outbound_authentication")
    if spec["outbound_authentication"] is not None and spec["outbound_authentication"] not in OUTBOUND_AUTH:
        raise MetabaseError("outbound_authentication: %r is not one of %s" % (spec["outbound_authentication"], ", ".join(OUTBOUND_AUTH)))
    spec["outbound_username"] = params.get("outbound_username")
    spec["outbound_password"] = params.get("outbound_password")
    spec["update_password"] = params.get("update_password") or "on_change"
    if spec["outbound_authentication"] in ("basic", "integrated") and not spec["outbound_username"]:
        raise MetabaseError("outbound_username: required when outbound_authentication is %s" % spec["outbound_authentication"])
    if spec["outbound_password"] is not None and spec["outbound_authentication"] in (None, "anonymous"):
        raise MetabaseError("outbound_password: only used with outbound_authentication basic or integrated")
    if spec["outbound_authentication"] == "basic" and spec["outbound_tls"] is False and not params.get("allow_cleartext_password"):
        raise MetabaseError("outbound_tls: basic authentication would send the password in clear text; "
                            "set outbound_tls: true (or allow_cleartext_password: true)")

    mail_root = params.get("mail_root")
    if mail_root is not None:
        mail_root = str(mail_root).strip().rstrip("\\")
        if not re.match(r"^[A-Za-z]:\\", mail_root + "\\"):
            raise MetabaseError("mail_root: %r is not an absolute Windows path such as C:\\inetpub\\mailroot-submission" % params.get("mail_root"))
    spec["mail_root"] = mail_root
    thumbprint = params.get("tls_certificate_thumbprint")
    if thumbprint is not None:
        thumbprint = re.sub(r"[\s:]", "", str(thumbprint)).upper()
        if not _THUMBPRINT.match(thumbprint):
            raise MetabaseError("tls_certificate_thumbprint: %r is not a 40-digit SHA-1 thumbprint" % params.get("tls_certificate_thumbprint"))
    spec["tls_certificate_thumbprint"] = thumbprint
    spec["allow_open_relay"] = bool(params.get("allow_open_relay"))
    # Unless told otherwise, assume the server is reachable from the Internet: the safe side.
    spec["internet_facing"] = params.get("internet_facing") is not False
    return spec


# ---- views (readable state) ------------------------------------------------------------------
def server_view(props, state_name=None, detail=False):
    """Readable settings of a virtual server, keyed like iis_smtp_server's options.

    ``detail`` adds the raw flag names (for iis_smtp_info); diffs leave them out.
    """
    relay = _read_access_list(props, "RelayIpList")
    connection = _read_access_list(props, "IPSecurity")
    mail_root = _read_mail_root(props)
    root = None
    if all(mail_root):
        candidate = (props.get("QueueDirectory") or "").rsplit("\\", 1)[0]
        if tuple(item.lower() for item in _mail_root_dirs(candidate)) == mail_root:
            root = candidate
    route_action = props.get("RouteAction") or 0
    view = {
        "name": props.get("ServerComment") or "",
        "state": state_name or SERVER_STATES.get(props.get("ServerState"), "unknown"),
        "auto_start": bool(props.get("ServerAutoStart")),
        "bindings": [describe_binding(address, port) for address, port in _bindings_of(props)],
        "default_domain": props.get("DefaultDomain") or "",
        "fqdn": props.get("FullyQualifiedDomainName") or "",
        "authentication": flag_names((props.get("AuthFlags") or 0) & AUTH_MANAGED_MASK, AUTH_FLAGS),
        "require_tls": bool((props.get("AccessSSLFlags") or 0) & REQUIRE_TLS),
        "relay_for_authenticated": bool(props.get("RelayForAuth")),
        "relay_ip_list": relay.describe(),
        "connection_ip_list": connection.describe(),
        "smart_host": props.get("SmartHost") or "",
        "smart_host_type": SMART_HOST_TYPE_NAMES.get(props.get("SmartHostType") or 0, str(props.get("SmartHostType"))),
        "outbound_port": props.get("RemoteSmtpPort"),
        "outbound_tls": bool(route_action & ROUTE_ACTION["ssl"]),
        "outbound_authentication": _outbound_auth(route_action),
        "outbound_username": props.get("RouteUserName") or "",
        "outbound_password_set": bool(props.get("RoutePassword")),
        "max_message_size": props.get("MaxMessageSize"),
        "masquerade_domain": props.get("MasqueradeDomain") or "",
        "mail_root": root,
        "tls_certificate_thumbprint": (props.get("SSLCertHash") or b"").hex().upper(),
    }
    if detail:
        view["all_unassigned"] = any(address == "" for address, dummy in _bindings_of(props))
        view["auth_flags"] = flag_names(props.get("AuthFlags"), _flag_table("AuthFlags."))
        view["access_ssl_flags"] = props.get("AccessSSLFlags") or 0
        view["route_action_flags"] = flag_names(route_action, ROUTE_ACTION)
    if root is None and any(mail_root):
        view["mail_directories"] = dict(zip(MAIL_ROOT_PROPERTIES, (props.get(name) or "" for name in MAIL_ROOT_PROPERTIES)))
    return view


def server_report(server):
    """A virtual server as iis_smtp_server and iis_smtp_info return it: view, index, open-relay risks."""
    view = dict(server_view(server.props, detail=True), index=server.index)
    view["open_relay_risks"] = open_relay_risks(server.props)
    return view


# ---- open relay rules ------------------------------------------------------------------------
def open_relay_risks(props):
    """Why a virtual server with ``props`` may relay for anonymous Internet clients (empty: it does not).

    Relaying without authentication needs anonymous access; then the relay IP
    list decides. A grant-by-default list, or a grant wider than /BROAD_PREFIX,
    lets strangers (or a NAT device's inside address) relay.
    """
    # Unset is Windows' restrictive default ("only the list below", empty).
    if not (props.get("AuthFlags") or 0) & AUTH_FLAGS["anonymous"] or props.get("RelayIpList") is None:
        return []
    relay = _read_access_list(props, "RelayIpList")
    if isinstance(relay, _Undecodable):
        return ["relay_ip_list is unreadable (%s): set relay_ip_list explicitly" % relay.reason]
    risks = []
    if relay.grant_by_default:
        risks.append("relay_ip_list grants relay to every address except %s ('All except the list below')" % (
            ", ".join(str(entry) for entry in relay.entries) or "none"))
    else:
        for entry in relay.entries:
            if entry.prefixlen < BROAD_PREFIX:
                risks.append("relay_ip_list grants relay to %s, wider than /%d" % (entry, BROAD_PREFIX))
    return risks


def domain_open_relay_risks(domain_views):
    risks = []
    for view in domain_views:
        if view.get("type") == "remote" and view.get("allow_relay") and _is_broad_domain(view["name"]):
            risks.append("remote domain %s allows relay to every matching domain" % view["name"])
    return risks


def _is_broad_domain(name):
    return name == "*" or (name.startswith("*.") and "." not in name[2:])


# ---- server plan -----------------------------------------------------------------------------
class ServerPlan:
    def __init__(self):
        self.operations = []
        self.before = {}
        self.after = {}
        self.secrets = {}
        self.warnings = []
        # Texts of UNCONFIRMED facts the plan relies on (the task's result lists them).
        self.unconfirmed = []
        self.after_props = None

    def relies_on(self, key):
        if UNCONFIRMED[key] not in self.unconfirmed:
            self.unconfirmed.append(UNCONFIRMED[key])


def _set_op(server_name, spec, value, domain=None):
    operation = {"op": "set_property", "server": server_name, "name": spec.name, "type": spec.type, "via": spec.via,
                 "value": to_wire(spec, value)}
    if domain is not None:
        operation["domain"] = domain
    return operation


def _secret_op(server_name, key, domain=None):
    operation = {"op": "set_secret", "server": server_name, "name": "RoutePassword", "type": "SECRET", "via": "adsi",
                 "secret": key, "verify": False}
    if domain is not None:
        operation["domain"] = domain
    return operation


def _apply_settings(desired, props, force=False):
    """Server property values that take ``props`` to ``desired``; returns (working props, changed names in order).

    ``force`` writes every desired setting: a new virtual server inherits
    service-level values that must not be mistaken for its own.
    """
    working = dict(props)
    changed = []
    for option, reader, writer in SERVER_SETTINGS:
        value = desired.get(option)
        if value is None:
            continue
        wanted = _SERVER_COMPARE[option](value) if option in _SERVER_COMPARE else value
        if not force and reader(working) == wanted:
            continue
        for name, new in writer(value, working).items():
            working[name] = new
            if name not in changed:
                changed.append(name)
    return working, [name for name in changed if working.get(name) != props.get(name) or name not in props]


def _binding_conflicts(spec, host, own):
    """(errors, warnings) about other virtual servers using the same address and port."""
    errors, warnings = [], []
    if not spec["bindings"]:
        return errors, warnings
    for other in host.servers:
        if own is not None and other.index == own.index:
            continue
        other_running = SERVER_STATES.get(other.props.get("ServerState")) in ("started", "starting") or other.props.get("ServerAutoStart")
        for address, port in spec["bindings"]:
            for other_address, other_port in _bindings_of(other.props):
                if other_port != port:
                    continue
                if other_address == address:
                    message = "binding %s is already used by virtual server %r (index %d); a virtual server with a duplicate binding does not start" % (
                        describe_binding(address, port), other.name, other.index)
                    (errors if spec["state"] == "started" and other_running else warnings).append(message)
                elif other_address == "" and other_running:
                    warnings.append("virtual server %r (index %d) listens on all unassigned addresses, port %d; "
                                    "stop it or bind it to one address so that only the intended server answers" % (other.name, other.index, port))
    return errors, warnings


def _control_op(server_name, command):
    """start_server/stop_server, with the ServerCommand value the payload writes."""
    return {"op": command + "_server", "server": server_name, "command": SERVER_COMMAND[command]}


def _child_keys(spec):
    """The keys IIS 6 Manager creates under a new virtual server: the Domain container and ROOT."""
    children = []
    for key, key_class in SERVER_CHILD_KEYS:
        child = {"name": key, "class": key_class}
        if key_class == "IIsSmtpVirtualDir":
            child["path"] = spec.get("mail_root") or fact("Root.default_path")
        children.append(child)
    return children


def _password_due(current, working, new, update_password):
    """Whether to write RoutePassword, which cannot be read back: on a new key, with update_password
    ``always``, when none is set, or when the user name or method it belonged to changes."""
    return (new or update_password == "always" or not current.get("RoutePassword")
            or (working.get("RouteUserName") or "") != (current.get("RouteUserName") or "")
            or _outbound_auth(working.get("RouteAction")) != _outbound_auth(current.get("RouteAction")))


# The key of the server's outbound password in the payload's Secrets parameter.
_SERVER_SECRET = "outbound_password"


def plan_server(spec, host):
    """Typed operations that take virtual server ``spec['name']`` on ``host`` to ``spec``."""
    plan = ServerPlan()
    server = host.named(spec["name"])
    name = spec["name"]
    if spec["state"] == "absent":
        if server is not None:
            if server.index == DEFAULT_SERVER_INDEX:
                raise MetabaseError(
                    "state: %r is the default virtual server (#%d); tools and scripts expect it (SmtpSvc/%d), so it is "
                    "not deleted: use state: stopped" % (name, DEFAULT_SERVER_INDEX, DEFAULT_SERVER_INDEX))
            plan.before = server_view(server.props)
            plan.after = {"name": name, "state": "absent"}
            if SERVER_STATES.get(server.props.get("ServerState")) != "stopped":
                plan.operations.append(_control_op(name, "stop"))
                plan.relies_on("server.start_stop")
            plan.operations.append({"op": "delete_server", "server": name})
        return plan

    errors, plan.warnings = _binding_conflicts(spec, host, server)
    if errors:
        raise MetabaseError("bindings: " + "; ".join(errors))

    creating = server is None
    if creating:
        if not spec["bindings"]:
            raise MetabaseError("bindings: required to create virtual server %r" % name)
        current = {}
        plan.before = {"name": name, "state": "absent"}
        plan.operations.append({"op": "create_server", "server": name,
                                "bindings": [format_binding(address, port) for address, port in spec["bindings"]],
                                "children": _child_keys(spec)})
        base = {"ServerComment": name, "ServerBindings": tuple(format_binding(a, p) for a, p in spec["bindings"])}
    else:
        current = server.props
        plan.before = server_view(current)
        base = current

    working, changed = _apply_settings(spec, base, force=creating)
    if creating:
        # create_server already wrote these two.
        changed = [prop for prop in changed if prop not in ("ServerComment", "ServerBindings")]
    for prop in changed:
        plan.operations.append(_set_op(name, SERVER_SPEC[prop], working[prop]))

    password = spec.get("outbound_password")
    if password is not None and _password_due(current, working, creating, spec["update_password"]):
        plan.operations.append(_secret_op(name, _SERVER_SECRET))
        plan.secrets[_SERVER_SECRET] = password
        working["RoutePassword"] = True

    state_now = "stopped" if creating else SERVER_STATES.get(current.get("ServerState"), "unknown")
    state_after = state_now
    if spec["state"] == "started" and state_now != "started":
        plan.operations.append(_control_op(name, "start"))
        state_after = "started"
    elif spec["state"] == "stopped" and state_now != "stopped":
        plan.operations.append(_control_op(name, "stop"))
        state_after = "stopped"
    if state_after != state_now:
        plan.relies_on("server.start_stop")
    if spec.get("tls_certificate_thumbprint"):
        plan.relies_on("SSLCertHash.location")

    plan.after_props = working
    plan.after = server_view(working, state_after)
    if plan.secrets:
        plan.after["outbound_password_set"] = True
        plan.after["outbound_password"] = "(new value)"
    if not plan.operations:
        plan.after = plan.before
    return plan


def server_relay_refusal(spec, plan, host):
    """Reasons to refuse the plan: the server would be an open relay on an Internet-facing host."""
    if not spec["internet_facing"] or spec["allow_open_relay"] or spec["state"] in ("absent", "stopped"):
        return []
    props = plan.after_props
    if props is None:
        server = host.named(spec["name"])
        props = server.props if server is not None else {}
    if spec["state"] == "present" and SERVER_STATES.get(props.get("ServerState")) != "started":
        return []
    return open_relay_risks(props)


# ---- domains ---------------------------------------------------------------------------------
DOMAIN_TYPES = ("remote", "alias")


def domain_type(route_action):
    route_action = route_action or 0
    if route_action & ROUTE_ACTION["default"]:
        return "default"
    if route_action & ROUTE_ACTION["alias"]:
        return "alias"
    return "remote"


def domain_view(domain):
    props = domain.props
    route_action = props.get("RouteAction") or 0
    kind = domain_type(route_action)
    view = {"name": domain.name.lower(), "type": kind, "route_action_flags": flag_names(route_action, ROUTE_ACTION)}
    if kind == "remote":
        view.update(
            allow_relay=bool(route_action & ALLOW_RELAY_TO_DOMAIN),
            smart_host=(props.get("RouteActionString") or "") if route_action & ROUTE_ACTION["smarthost"] else "",
            tls=bool(route_action & ROUTE_ACTION["ssl"]),
            authentication=_outbound_auth(route_action),
            username=props.get("RouteUserName") or "",
            password_set=bool(props.get("RoutePassword")),
        )
    return view


def build_domain_specs(params):
    """Validate iis_smtp_domain's ``domains``; returns {lower-case name: spec}."""
    specs = {}
    for position, item in enumerate(params.get("domains") or []):
        where = "domains[%d]" % position
        name = normalize_domain(where + ".name", item.get("name") or "", wildcard=True)
        if name in specs:
            raise MetabaseError("%s.name: %s is listed twice" % (where, name))
        kind = item.get("type") or "remote"
        if kind not in DOMAIN_TYPES:
            raise MetabaseError("%s.type: %r is not one of %s" % (where, kind, ", ".join(DOMAIN_TYPES)))
        state = item.get("state") or "present"
        if state not in ("present", "absent"):
            raise MetabaseError("%s.state: %r is not present or absent" % (where, state))
        authentication = item.get("authentication") or "anonymous"
        if authentication not in OUTBOUND_AUTH:
            raise MetabaseError("%s.authentication: %r is not one of %s" % (where, authentication, ", ".join(OUTBOUND_AUTH)))
        spec = {"name": name, "where": where, "type": kind, "state": state}
        if kind == "alias":
            for option in ("allow_relay", "smart_host", "tls", "username", "password"):
                if item.get(option):
                    raise MetabaseError("%s.%s: an alias domain is delivered locally; %s applies to remote domains" % (where, option, option))
            if item.get("authentication") not in (None, "anonymous"):
                raise MetabaseError("%s.authentication: an alias domain is delivered locally" % where)
            if name.startswith("*"):
                raise MetabaseError("%s.name: an alias domain cannot be a wildcard" % where)
        else:
            smart_host = item.get("smart_host")
            spec.update(
                allow_relay=bool(item.get("allow_relay")),
                smart_host=normalize_smart_host(where + ".smart_host", smart_host) if smart_host else "",
                tls=bool(item.get("tls")),
                authentication=authentication,
                username=item.get("username") or "",
                password=item.get("password"),
            )
            if authentication != "anonymous" and not spec["username"]:
                raise MetabaseError("%s.username: required when authentication is %s" % (where, authentication))
            if spec["password"] is not None and authentication == "anonymous":
                raise MetabaseError("%s.password: only used with authentication basic or integrated" % where)
            if authentication == "basic" and not spec["tls"] and not params.get("allow_cleartext_password"):
                raise MetabaseError("%s.tls: basic authentication would send the password in clear text; "
                                    "set tls: true (or allow_cleartext_password: true)" % where)
        specs[name] = spec
    return specs


def _domain_target(spec, props):
    route_action = props.get("RouteAction") or 0
    if spec["type"] == "alias":
        bits = ROUTE_ACTION["alias"]
        return {"RouteAction": (route_action & ~DOMAIN_MANAGED_MASK) | bits}
    bits = OUTBOUND_AUTH[spec["authentication"]]
    if spec["allow_relay"]:
        bits |= ALLOW_RELAY_TO_DOMAIN
    if spec["smart_host"]:
        bits |= ROUTE_ACTION["smarthost"]
    if spec["tls"]:
        bits |= ROUTE_ACTION["ssl"]
    target = {"RouteAction": (route_action & ~DOMAIN_MANAGED_MASK) | bits,
              "RouteActionString": spec["smart_host"]}
    if spec["authentication"] != "anonymous" or props.get("RouteUserName"):
        target["RouteUserName"] = spec["username"]
    return target


class DomainPlan(ServerPlan):
    pass


# What an unset domain property means, for comparing with a desired value.
DOMAIN_DEFAULTS = {"RouteAction": 0, "RouteActionString": "", "RouteUserName": ""}


def plan_domains(server_name, specs, host, exclusive=False, update_password="on_change", missing_server_ok=False):
    """Typed operations that take the domains of virtual server ``server_name`` to ``specs``.

    ``missing_server_ok`` (check mode) plans against an empty domain list when
    the virtual server does not exist yet: an earlier task would create it.
    """
    plan = DomainPlan()
    server = host.named(server_name)
    if server is None and not missing_server_ok:
        raise MetabaseError("server: virtual server %r does not exist; create it with mailrelay.smtp.iis_smtp_server first" % server_name)
    if server is None:
        plan.warnings.append("virtual server %r does not exist (yet); the domains are planned as if it had none" % server_name)
    current = (server.domains if server is not None else None) or {}
    before, after = {}, {}

    for key, spec in specs.items():
        domain = current.get(key)
        if domain is not None and domain_type(domain.props.get("RouteAction")) == "default":
            raise MetabaseError("%s.name: %s is the default domain of %r; set it with iis_smtp_server's default_domain" % (
                spec["where"], spec["name"], server_name))
        if spec["state"] == "absent":
            if domain is not None:
                plan.operations.append({"op": "delete_domain", "server": server_name, "domain": domain.name})
                before[key] = domain_view(domain)
                after[key] = "(absent)"
            continue
        props = domain.props if domain is not None else {}
        domain_name = spec["name"] if domain is None else domain.name
        target = _domain_target(spec, props)
        ops = []
        if domain is None:
            # The Domain container is created first when the server has none (a server made by other tools).
            ops.append({"op": "create_domain", "server": server_name, "domain": domain_name,
                        "container_class": dict(SERVER_CHILD_KEYS)["Domain"]})
        for prop, value in target.items():
            if domain is None:
                # A new key starts empty: write RouteAction and whatever is not empty.
                write = prop == "RouteAction" or bool(value)
            else:
                write = (props.get(prop) or DOMAIN_DEFAULTS.get(prop)) != value
            if write:
                ops.append(_set_op(server_name, DOMAIN_SPEC[prop], value, domain=domain_name))
        if spec.get("allow_relay"):
            plan.relies_on("RouteAction.domain_relay")
        merged = dict(props)
        merged.update(target)
        password = spec.get("password")
        password_written = password is not None and _password_due(props, merged, domain is None, update_password)
        if password_written:
            secret_key = "domain:" + spec["name"]
            ops.append(_secret_op(server_name, secret_key, domain=domain_name))
            plan.secrets[secret_key] = password
            merged["RoutePassword"] = True
        if ops:
            plan.operations.extend(ops)
            before[key] = domain_view(domain) if domain is not None else "(absent)"
            after[key] = domain_view(Domain(spec["name"], merged))
            if password_written:
                after[key]["password"] = "(new value)"

    if exclusive:
        for key, domain in sorted(current.items()):
            if key in specs or domain_type(domain.props.get("RouteAction")) == "default":
                continue
            plan.operations.append({"op": "delete_domain", "server": server_name, "domain": domain.name})
            before[key] = domain_view(domain)
            after[key] = "(absent)"

    if plan.operations:
        plan.before = {"server": server_name, "domains": before}
        plan.after = {"server": server_name, "domains": after}
    return plan


def domain_views(server):
    """Readable views of every domain of ``server``, sorted by name."""
    return [domain_view(server.domains[key]) for key in sorted(server.domains or {})]


def secrets_parameter(secrets):
    """All secrets of a plan as the one SecureString parameter (``Secrets``) the payload declares."""
    if not secrets:
        return {}
    return {"Secrets": json.dumps(secrets, sort_keys=True)}


# ---- messages for the action plugins -------------------------------------------------------------
# Known failures of the IIS payload (``MAILRELAY:<code>:``), with what the user should do about them.
ERROR_HINTS = {
    "smtp_missing": "the SMTP Server feature is not installed (the IIS 6 metabase has no SMTPSVC key); "
                    "install SMTP-Server, for example with the mailrelay.smtp.iis_smtp role",
    "wmi_missing": "IIS 6 WMI Compatibility is missing (root\\MicrosoftIISv2); install the Web-WMI feature, "
                   "for example with the mailrelay.smtp.iis_smtp role",
    "service_stopped": "the SMTPSVC service is stopped, so no virtual server can start; start it (the iis_smtp role does)",
    "control_failed": "the virtual server did not reach the wanted state; a virtual server does not start when "
                      "another one uses the same address and port",
    "no_server": "the virtual server disappeared between the read and the apply call; run the task again",
    "no_secret": "a password operation found no password (internal error of the collection)",
    "ipsecurity_missing": "the virtual server has no IIsIPSecurity object through ADSI or WMI (IIsIPSecuritySetting); "
                          "set the connection control once in IIS 6 Manager, then run the task again",
}


def error_message(payload, code, message):
    """User-facing text for a payload failure, with a hint for known codes."""
    text = "%s failed on the host: %s" % (payload, message)
    hint = ERROR_HINTS.get(code)
    return "%s (%s)" % (text, hint) if hint else text


def operation_summary(operations):
    """Short, secret-free description of each operation for the module result."""
    summary = []
    for operation in operations:
        words = [operation["op"]]
        if operation.get("domain"):
            words.append(operation["domain"])
        if operation.get("name"):
            words.append(operation["name"])
        summary.append(" ".join(words))
    return summary
