# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Exchange send connectors: DNS routing or smart hosts, TLS, smart host credentials.

Send connectors are organisation-wide objects; their identity is their name.
The smart host password is write-only (Exchange never returns it): it is sent
when the connector is created, when the user name or the authentication
mechanism changes, or on every run with ``update_password=always``; that
operation is exempt from the post-apply verification.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex
from ansible_collections.mailrelay.smtp.plugins.module_utils._windows_plan import ResourcePlan

USAGES = {"custom": "Custom", "internal": "Internal", "internet": "Internet", "partner": "Partner"}
AUTH = {
    "none": "None",
    "basic": "BasicAuth",
    "basic_require_tls": "BasicAuthRequireTLS",
    "exchange_server": "ExchangeServer",
    "external_authoritative": "ExternalAuthoritative",
}
TLS_AUTH_LEVELS = {
    "encryption_only": "EncryptionOnly",
    "certificate_validation": "CertificateValidation",
    "domain_validation": "DomainValidation",
}
PASSWORD_PARAMETER = "SmartHostPassword"
_BASIC = ("BasicAuth", "BasicAuthRequireTLS")
_DOMAIN = re.compile(r"^(\*|(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,62})\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))$")


def parse_address_space(text, option="address_spaces"):
    """``("SMTP", "example.com", 1)`` from ``example.com``, ``*``, ``*.example.com``, ``SMTP:example.com;5``."""
    if not isinstance(text, str) or not text.strip():
        raise ex.ExchangeInputError("%s: an address space must be a non-empty string" % option)
    value = text.strip()
    kind = "SMTP"
    match = re.match(r"^([A-Za-z0-9]+):(.*)$", value)
    if match:
        kind, value = match.group(1).upper(), match.group(2)
        if kind != "SMTP":
            raise ex.ExchangeInputError("%s: only SMTP address spaces are managed (got %r)" % (option, text))
    cost = 1
    if ";" in value:
        value, dummy, cost_text = value.rpartition(";")
        if not cost_text.strip().isdigit() or not 1 <= int(cost_text) <= 100:
            raise ex.ExchangeInputError("%s: the cost in %r must be a number from 1 to 100" % (option, text))
        cost = int(cost_text)
    domain = value.strip().lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise ex.ExchangeInputError("%s: %r is not a domain, *.domain or *" % (option, text))
    return (kind, domain, cost)


def format_address_space(space):
    return "%s:%s;%d" % space


def parse_smart_host(text, option="smart_hosts"):
    """Comparable key of a smart host: the address of an IP literal, or the lower-case host name."""
    if not isinstance(text, str) or not text.strip():
        raise ex.ExchangeInputError("%s: a smart host must be a non-empty string" % option)
    value = text.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    name = value.lower().rstrip(".")
    if not re.match(r"^([a-z0-9]([a-z0-9-]{0,62})\.)*[a-z0-9]([a-z0-9-]{0,62})$", name) or ":" in name:
        raise ex.ExchangeInputError("%s: %r is neither an IP address nor a host name (the port goes into port)" % (option, text))
    return name


def build_desired(params):
    name = ex.check_object_name(params["name"], "name")
    desired = {"name": name, "state": params["state"]}
    if params["state"] == "absent":
        return desired
    spaces = ex.unique(parse_address_space(item, "address_spaces[%d]" % i) for i, item in enumerate(params.get("address_spaces") or []))
    if not spaces:
        raise ex.ExchangeInputError("address_spaces: at least one address space is required (* for all Internet mail)")
    smart_hosts = ex.unique(parse_smart_host(item, "smart_hosts[%d]" % i) for i, item in enumerate(params.get("smart_hosts") or []))
    routing = params.get("routing") or ("smarthost" if smart_hosts else "dns")
    if routing == "smarthost" and not smart_hosts:
        raise ex.ExchangeInputError("smart_hosts: required when routing=smarthost")
    if routing == "dns" and smart_hosts:
        raise ex.ExchangeInputError("smart_hosts: only used with routing=smarthost (routing=dns looks up MX records)")
    auth = AUTH[params.get("smarthost_authentication") or "none"]
    if auth != "None" and routing != "smarthost":
        raise ex.ExchangeInputError("smarthost_authentication: only used with routing=smarthost")
    username, password = params.get("username"), params.get("password")
    if auth in _BASIC and not username:
        raise ex.ExchangeInputError("username: required with smarthost_authentication=%s" % params["smarthost_authentication"])
    if auth not in _BASIC and (username or password):
        raise ex.ExchangeInputError("username/password: only used with smarthost_authentication basic or basic_require_tls")
    tls = params.get("tls") or "opportunistic"
    if auth == "BasicAuthRequireTLS" and tls == "none":
        raise ex.ExchangeInputError("tls: basic_require_tls authentication needs tls opportunistic or required")
    if auth == "BasicAuth" and tls != "required":
        raise ex.ExchangeInputError(
            "tls: must be required when a password is sent with smarthost_authentication=basic "
            "(or use basic_require_tls, which sends it only after STARTTLS)"
        )
    level = params.get("tls_auth_level")
    if level and tls != "required":
        raise ex.ExchangeInputError("tls_auth_level: only used with tls=required")
    if params.get("tls_domain") and level != "domain_validation":
        raise ex.ExchangeInputError("tls_domain: only used with tls_auth_level=domain_validation")
    port = params.get("port")
    if port is not None and not 0 < port < 65536:
        raise ex.ExchangeInputError("port: %r is out of range" % port)
    servers = None
    if params.get("source_transport_servers") is not None:
        servers = ex.unique(ex.check_server_name(s, "source_transport_servers[%d]" % i) for i, s in enumerate(params["source_transport_servers"]))
        if not servers:
            raise ex.ExchangeInputError("source_transport_servers: at least one server is required")
    desired.update(
        usage=USAGES[params.get("usage") or "internet"],
        address_spaces=spaces,
        dns_routing=routing == "dns",
        smart_hosts=smart_hosts,
        port=port,
        require_tls=tls == "required",
        ignore_starttls=tls == "none",
        tls_auth_level=TLS_AUTH_LEVELS[level] if level else None,
        tls_domain=params.get("tls_domain"),
        smarthost_auth=auth,
        username=username,
        password=password,
        update_password=params.get("update_password") or "on_create",
        use_external_dns=params.get("use_external_dns"),
        source_transport_servers=servers,
        max_message_size=ex.parse_byte_size(params.get("max_message_size"), allow_unlimited=True),
        fqdn=params.get("fqdn"),
        enabled=params.get("enabled"),
    )
    return desired


def decode_connector(raw):
    spaces, hosts = [], []
    for text in raw.get("address_spaces") or []:
        try:
            spaces.append(parse_address_space(text))
        except ex.ExchangeInputError:
            spaces.append(("?", str(text), 0))
    for text in raw.get("smart_hosts") or []:
        try:
            hosts.append(parse_smart_host(text))
        except ex.ExchangeInputError:
            hosts.append(str(text))
    return {
        "name": raw.get("name"),
        "address_spaces": spaces,
        "dns_routing": bool(raw.get("dns_routing_enabled")),
        "smart_hosts": hosts,
        "port": raw.get("port"),
        "require_tls": bool(raw.get("require_tls")),
        "ignore_starttls": bool(raw.get("ignore_starttls")),
        "tls_auth_level": raw.get("tls_auth_level") or None,
        "tls_domain": raw.get("tls_domain") or None,
        "smarthost_auth": raw.get("smarthost_auth_mechanism") or "None",
        "username": raw.get("username") or None,
        # Through the remote endpoint the credential may come back deserialized without its user name.
        "username_readable": raw.get("username_readable") is not False,
        "use_external_dns": bool(raw.get("use_external_dns_servers_enabled")),
        "source_transport_servers": [str(s) for s in raw.get("source_transport_servers") or []],
        "max_message_size": ex.size_from_host(raw.get("max_message_size")),
        "fqdn": raw.get("fqdn") or None,
        "enabled": bool(raw.get("enabled", True)),
    }


def find_connector(document, name):
    """The send connector with exactly this name, decoded, or None."""
    raw = ex.find_raw(document, "send_connectors", "name", name)
    return None if raw is None else decode_connector(raw)


def view(connector):
    if connector is None:
        return {}
    return {
        "name": connector["name"],
        "address_spaces": [format_address_space(s) for s in connector["address_spaces"]],
        "routing": "dns" if connector["dns_routing"] else "smarthost",
        "smart_hosts": list(connector["smart_hosts"]),
        "port": connector["port"],
        "require_tls": connector["require_tls"],
        "ignore_starttls": connector["ignore_starttls"],
        "tls_auth_level": connector["tls_auth_level"],
        "tls_domain": connector["tls_domain"],
        "smarthost_authentication": connector["smarthost_auth"],
        "username": connector["username"] if connector.get("username_readable", True) else UNREADABLE_USERNAME,
        "use_external_dns": connector["use_external_dns"],
        "source_transport_servers": list(connector["source_transport_servers"]),
        "max_message_size": ex.format_size(connector["max_message_size"]),
        "fqdn": connector["fqdn"],
        "enabled": connector["enabled"],
    }


def _servers_differ(desired, current):
    return {ex.short_server_name(s).casefold() for s in desired} != {ex.short_server_name(s).casefold() for s in current}


def _changes(desired, current):
    """Cmdlet parameters whose managed value differs from ``current`` (every managed one when None)."""
    changes = {}
    if current is None or set(desired["address_spaces"]) != set(current["address_spaces"]):
        changes["AddressSpaces"] = [format_address_space(s) for s in desired["address_spaces"]]
    if current is None or desired["dns_routing"] != current["dns_routing"]:
        changes["DNSRoutingEnabled"] = desired["dns_routing"]
    if desired["dns_routing"]:
        if current is not None and current["smart_hosts"]:
            # Exchange keeps no smart hosts on a DNS-routed connector.
            changes["SmartHosts"] = None
    elif current is None or set(desired["smart_hosts"]) != set(current["smart_hosts"]):
        changes["SmartHosts"] = list(desired["smart_hosts"])
    if desired["port"] is not None and (current is None or desired["port"] != current["port"]):
        changes["Port"] = desired["port"]
    if current is None or desired["require_tls"] != current["require_tls"]:
        changes["RequireTLS"] = desired["require_tls"]
    if current is None or desired["ignore_starttls"] != current["ignore_starttls"]:
        changes["IgnoreSTARTTLS"] = desired["ignore_starttls"]
    if desired["tls_auth_level"] and (current is None or desired["tls_auth_level"] != current["tls_auth_level"]):
        changes["TlsAuthLevel"] = desired["tls_auth_level"]
    if desired["tls_domain"] and (current is None or (current["tls_domain"] or "").casefold() != desired["tls_domain"].casefold()):
        changes["TlsDomain"] = desired["tls_domain"]
    if current is None or desired["smarthost_auth"] != current["smarthost_auth"]:
        changes["SmartHostAuthMechanism"] = desired["smarthost_auth"]
    if desired["use_external_dns"] is not None and (current is None or desired["use_external_dns"] != current["use_external_dns"]):
        changes["UseExternalDNSServersEnabled"] = desired["use_external_dns"]
    servers = desired["source_transport_servers"]
    if servers is not None and (current is None or _servers_differ(servers, current["source_transport_servers"])):
        changes["SourceTransportServers"] = list(servers)
    size = desired["max_message_size"]
    if size is not None and (current is None or size != current["max_message_size"]):
        changes["MaxMessageSize"] = ex.size_to_host(size)
    if desired["fqdn"] is not None and (current is None or (current["fqdn"] or "").casefold() != desired["fqdn"].casefold()):
        changes["Fqdn"] = desired["fqdn"]
    if desired["enabled"] is not None and (current is None or desired["enabled"] != current["enabled"]):
        changes["Enabled"] = desired["enabled"]
    return changes


_FIELD_OF = {
    "AddressSpaces": "address_spaces",
    "DNSRoutingEnabled": "routing",
    "SmartHosts": "smart_hosts",
    "Port": "port",
    "RequireTLS": "tls",
    "IgnoreSTARTTLS": "tls",
    "TlsAuthLevel": "tls_auth_level",
    "TlsDomain": "tls_domain",
    "SmartHostAuthMechanism": "smarthost_authentication",
    "UseExternalDNSServersEnabled": "use_external_dns",
    "SourceTransportServers": "source_transport_servers",
    "MaxMessageSize": "max_message_size",
    "Fqdn": "fqdn",
    "Enabled": "enabled",
}


# Shown for a credential whose user name the host did not return (see decode_connector).
UNREADABLE_USERNAME = "(set; the user name is not readable through this session)"


def _username_changed(desired, current):
    """Whether the host's user name differs; one the host cannot return is unknown, not changed
    (else every run would resend the password and the check after apply could never pass)."""
    if not current.get("username_readable", True):
        return False
    return (current["username"] or "").casefold() != (desired["username"] or "").casefold()


def _credential_required(desired, current):
    """The smart host credential must be sent: a new connector, another user name, or basic authentication newly on."""
    if desired["smarthost_auth"] not in _BASIC:
        return False
    return current is None or _username_changed(desired, current) or current["smarthost_auth"] not in _BASIC


def plan(desired, current):
    """The ResourcePlan; its secrets hold the smart host password when it must be sent."""
    before = view(current)
    name = desired["name"]
    if desired["state"] == "absent":
        if current is None:
            return ResourcePlan([], before, {})
        return ResourcePlan([ex.operation("remove_send_connector", "state", {"Identity": name})], before, {})

    changes = _changes(desired, current)
    required = _credential_required(desired, current)
    if required and not desired["password"]:
        raise ex.ExchangeInputError("password: required to set the smart host credential of %s" % name)
    # update_password=always sends the password on every run; without a password there is nothing to send.
    rotate = desired["update_password"] == "always" and desired["smarthost_auth"] in _BASIC
    credential = bool(desired["password"]) and (required or rotate)
    extra = {"credential": {"username": desired["username"], "secret": PASSWORD_PARAMETER}} if credential else {}
    ops = []
    if current is None:
        ops.append(ex.operation("new_send_connector", "state", dict(changes, Name=name, Usage=desired["usage"]), **extra))
    elif changes or credential:
        fields = sorted({_FIELD_OF.get(key, key) for key in changes} | ({"password"} if credential else set()))
        # A password alone cannot be read back: that operation is exempt from verification.
        verify = bool(changes) or (credential and _username_changed(desired, current))
        ops.append(ex.operation("set_send_connector", ", ".join(fields), dict(changes, Identity=name), verify=verify, **extra))
    after = _after_view(desired, current)
    if credential:
        after["password"] = "(set)"
    return ResourcePlan(ops, before, after, {PASSWORD_PARAMETER: desired["password"]} if credential else {})


# Settings the task may leave unmanaged (None in ``desired``): after the change they keep the host's value.
_OPTIONAL_SETTINGS = ("port", "tls_auth_level", "tls_domain", "use_external_dns", "source_transport_servers", "max_message_size", "fqdn", "enabled")


def _after_view(desired, current):
    """``view`` of the connector once the plan has run (None for what a new connector gets by default)."""
    after = dict(desired)
    after.update((key, ex.desired_or_current(desired, current, key)) for key in _OPTIONAL_SETTINGS)
    after["source_transport_servers"] = after["source_transport_servers"] or []
    return view(after)


def report(current):
    return {"connector": view(current)}
