# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IIS SMTP virtual servers: options, readable views, open-relay rules and plans.

Turns iis_smtp_server's options into metabase property values (the facts and the
wire format are in ``_metabase``), compares them with what the payload read, and
plans the typed operations of its apply mode. It never talks to a host.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.mailrelay.smtp.plugins.module_utils import _iis_ip_security_list
from ansible_collections.mailrelay.smtp.plugins.module_utils._metabase import (
    AUTH_FLAGS,
    AUTH_MANAGED_MASK,
    bindings_of,
    BROAD_PREFIX,
    DEFAULT_SERVER_INDEX,
    describe_binding,
    DWORD_MAX,
    fact,
    flag_names,
    flag_table,
    format_binding,
    lower_text,
    MAIL_ROOT_FOLDERS,
    MAIL_ROOT_PROPERTIES,
    MetabaseError,
    MetabasePlan,
    normalize_domain,
    normalize_smart_host,
    outbound_auth,
    OUTBOUND_AUTH,
    OUTBOUND_MANAGED_MASK,
    password_due,
    RELAY_FOR_AUTH_ON,
    REQUIRE_TLS,
    ROUTE_ACTION,
    secret_operation,
    SERVER_CHILD_KEYS,
    SERVER_COMMAND,
    SERVER_SPEC,
    SERVER_STATES,
    set_operation,
    SMART_HOST_TYPE_NAMES,
    SMART_HOST_TYPES,
    TLS_MANAGED_MASK,
)


_THUMBPRINT = re.compile(r"^[0-9A-F]{40}$")


class ServerPlan(MetabasePlan):
    """The plan of one virtual server."""


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


def _mail_root_dirs(root):
    root = root.rstrip("\\")
    return tuple("%s\\%s" % (root, folder) for folder in MAIL_ROOT_FOLDERS)


def _read_mail_root(props):
    return tuple((props.get(name) or "").lower() for name in MAIL_ROOT_PROPERTIES)


def _set_bits(props, name, mask, bits):
    return {name: ((props.get(name) or 0) & ~mask) | bits}


# (option, reader(props) -> comparable value, writer(desired, props) -> {property: canonical value})
SERVER_SETTINGS = (
    ("bindings", bindings_of, lambda value, props: {"ServerBindings": tuple(format_binding(a, p) for a, p in value)}),
    ("auto_start", lambda props: bool(props.get("ServerAutoStart")), lambda value, props: {"ServerAutoStart": value}),
    ("default_domain", lambda props: lower_text(props.get("DefaultDomain")) or None if props.get("UpdatedDefaultDomain") else None,
     lambda value, props: {"DefaultDomain": value, fact("DefaultDomain.keep_override"): True}),
    ("fqdn", lambda props: lower_text(props.get("FullyQualifiedDomainName")) or None if props.get("UpdatedFQDN") else None,
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
    ("smart_host", lambda props: lower_text(props.get("SmartHost") or ""), lambda value, props: {"SmartHost": value}),
    ("smart_host_type", lambda props: props.get("SmartHostType") or 0, lambda value, props: {"SmartHostType": value}),
    ("outbound_port", lambda props: props.get("RemoteSmtpPort"), lambda value, props: {"RemoteSmtpPort": value}),
    ("outbound_tls", lambda props: bool((props.get("RouteAction") or 0) & ROUTE_ACTION["ssl"]),
     lambda value, props: _set_bits(props, "RouteAction", ROUTE_ACTION["ssl"], ROUTE_ACTION["ssl"] if value else 0)),
    ("outbound_authentication", lambda props: outbound_auth(props.get("RouteAction")),
     lambda value, props: _set_bits(props, "RouteAction", OUTBOUND_MANAGED_MASK & ~ROUTE_ACTION["ssl"], OUTBOUND_AUTH[value])),
    ("outbound_username", lambda props: props.get("RouteUserName") or "", lambda value, props: {"RouteUserName": value}),
    ("max_message_size", lambda props: props.get("MaxMessageSize"), lambda value, props: {"MaxMessageSize": value}),
    ("masquerade_domain", lambda props: lower_text(props.get("MasqueradeDomain") or ""), lambda value, props: {"MasqueradeDomain": value}),
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
        "bindings": [describe_binding(address, port) for address, port in bindings_of(props)],
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
        "outbound_authentication": outbound_auth(route_action),
        "outbound_username": props.get("RouteUserName") or "",
        "outbound_password_set": bool(props.get("RoutePassword")),
        "max_message_size": props.get("MaxMessageSize"),
        "masquerade_domain": props.get("MasqueradeDomain") or "",
        "mail_root": root,
        "tls_certificate_thumbprint": (props.get("SSLCertHash") or b"").hex().upper(),
    }
    if detail:
        view["all_unassigned"] = any(address == "" for address, dummy in bindings_of(props))
        view["auth_flags"] = flag_names(props.get("AuthFlags"), flag_table("AuthFlags."))
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
            for other_address, other_port in bindings_of(other.props):
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
                plan.relies_on_fact("server.start_stop")
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
        plan.operations.append(set_operation(name, SERVER_SPEC[prop], working[prop]))

    password = spec.get("outbound_password")
    if password is not None and password_due(current, working, creating, spec["update_password"]):
        plan.operations.append(secret_operation(name, _SERVER_SECRET))
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
        plan.relies_on_fact("server.start_stop")
    if spec.get("tls_certificate_thumbprint"):
        plan.relies_on_fact("SSLCertHash.location")

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
