# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IIS 6 SMTP metabase: facts, properties, wire format, the host document, shared plan parts.

This is the ground floor of the IIS SMTP resources, split as the Exchange side is:
this module knows the metabase properties of an SMTP virtual server
(``/LM/SMTPSVC/n``) and of its domains (``/LM/SMTPSVC/n/Domain/<name>``), their
wire format and the host document the payload returns; ``_metabase_server``
plans virtual servers and ``_metabase_domain`` their domains. None of them
talks to a host.

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

from ansible_collections.mailrelay.smtp.plugins.module_utils._windows_plan import ResourcePlan

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
    Fact("SmartHost.notices", "server smart host", "medium",
         "a server's own non-delivery notices follow its server-wide smart host like any mail for a domain it does not list "
         "(the smart host takes all outbound mail); inferred, the inbound relay job relies on it"),
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


def flag_table(prefix):
    return {f.key[len(prefix):]: f.value for f in FACTS if f.key.startswith(prefix)}


AUTH_FLAGS = {name: value for name, value in flag_table("AuthFlags.").items() if name != "md5"}
AUTH_MANAGED_MASK = sum(AUTH_FLAGS.values())
REQUIRE_TLS = fact("AccessSSLFlags.require_tls")
TLS_MANAGED_MASK = REQUIRE_TLS | fact("AccessSSLFlags.require_128bit")
RELAY_FOR_AUTH_ON = fact("RelayForAuth.enabled")
SMART_HOST_TYPES = flag_table("SmartHostType.")
SMART_HOST_TYPE_NAMES = {value: name for name, value in SMART_HOST_TYPES.items()}
SERVER_STATES = {value: name for name, value in flag_table("ServerState.").items()}
ROUTE_ACTION = flag_table("RouteAction.")
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


def bindings_of(props):
    return tuple(sorted(parse_binding(item) for item in props.get("ServerBindings") or ()))


def lower_text(value):
    return value.lower() if isinstance(value, str) else value


def flag_names(value, table):
    """Names of the bits of ``value`` in ``table``, plus ``0x...`` for bits without a name."""
    value = value or 0
    names = [name for name, bit in sorted(table.items(), key=lambda item: item[1]) if value & bit]
    unknown = value & ~sum(table.values())
    if unknown:
        names.append("0x%x" % unknown)
    return names


def outbound_auth(route_action):
    route_action = route_action or 0
    if route_action & ROUTE_ACTION["auth_cleartext"]:
        return "basic"
    if route_action & (ROUTE_ACTION["auth_ntlm"] | ROUTE_ACTION["auth_kerberos"]):
        return "integrated"
    return "anonymous"


# ---- plans and operations, shared by servers and domains -------------------------------------------
class MetabasePlan(ResourcePlan):
    """A ResourcePlan of an IIS resource; ``after_props`` are the server's properties after it (open-relay check)."""

    def __init__(self):
        super().__init__()
        self.after_props = None

    def relies_on_fact(self, key):
        """Record that the plan relies on the unconfirmed fact ``key`` (a key of UNCONFIRMED)."""
        self.relies_on(UNCONFIRMED[key])


def set_operation(server_name, spec, value, domain=None):
    operation = {"op": "set_property", "server": server_name, "name": spec.name, "type": spec.type, "via": spec.via,
                 "value": to_wire(spec, value)}
    if domain is not None:
        operation["domain"] = domain
    return operation


def secret_operation(server_name, key, domain=None):
    operation = {"op": "set_secret", "server": server_name, "name": "RoutePassword", "type": "SECRET", "via": "adsi",
                 "secret": key, "verify": False}
    if domain is not None:
        operation["domain"] = domain
    return operation


def password_due(current, working, new, update_password):
    """Whether to write RoutePassword, which cannot be read back: on a new key, with update_password
    ``always``, when none is set, or when the user name or method it belonged to changes."""
    return (new or update_password == "always" or not current.get("RoutePassword")
            or (working.get("RouteUserName") or "") != (current.get("RouteUserName") or "")
            or outbound_auth(working.get("RouteAction")) != outbound_auth(current.get("RouteAction")))


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
