# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake of a Windows host's IIS 6 SMTP metabase, behind the collection's payload contract.

It stands in for ``plugins/payloads/iis_smtp.ps1`` running on a Windows Server
with the SMTP Server feature (no Windows can run here). What it follows, and
where from:

- the payload's two modes: ``read`` returns the state and changes nothing (it
  refuses operations); ``apply`` executes the operations, then returns the
  state after, read by the same code; a missing or other mode fails as
  PowerShell's parameter binding does (``Mandatory``, ``ValidateSet``);
- property types from Microsoft's IIS 6 metabase reference, kept in its own
  table below (not imported from the code under test, so a wrong type in
  ``_metabase.py`` fails here): DWORD values are stored unsigned and read back
  the way ADSI hands them over (signed Int32), BOOL as bool, STRING, MULTISZ as
  lists, BINARY (``RelayIpList`` through WMI, ``SSLCertHash`` through ADSI) as
  bytes and base64 on the wire, ``IPSecurity`` as the members of the ADSI
  IIsIPSecurity object, ``RoutePassword`` stored but only reported as set;
- unknown properties fail as ADSI does ("cannot be found in the cache"); a
  value of the wrong type or out of the Int32 range fails as PowerShell's cast
  does; the read-only ``ServerState`` cannot be written;
- a virtual server made in IIS 6 Manager has two child keys (IIS 6 metabase
  reference: ``IIsSmtpDomain`` keys live under ``/LM/SMTPSVC/n/Domain``, and
  ``IIsSmtpVirtualDir`` is the server's ``ROOT``); creating a domain under a
  server without the ``Domain`` container fails as ADSI does for a missing
  parent path, unless the operation names the container's class so the
  payload creates it first;
- start and stop carry the ``ServerCommand`` value the payload writes
  (reference, ID 1012: 1 start, 2 stop; documented for web and FTP sites, and
  the IIS console writes it for SMTP): the ADSI ``Start()``/``Stop()`` methods
  alone are documented for web and FTP servers only, so an operation without
  the command fails here;
- virtual server creation takes the next free index; a virtual server whose
  address and port another started server uses does not start (ServerState
  stays 4), which the payload reports as ``control_failed``;
- ``MAILRELAY:<code>:`` errors exactly where the payload raises them.

Deliberate simplifications: properties of a virtual server inherit from the
service level (``service_props``) when not set; domain keys do not inherit.
``refuse`` names properties the host accepts but does not keep (xSMTP's "some
settings refuse to be set"), to exercise the action plugins' verify step.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from ansible_collections.mailrelay.smtp.tests.unit.utils.windows_action import PayloadFailure

# Documented metabase types (IIS 6.0 metabase property reference).
SERVER_SCHEMA = {
    "ServerComment": ("STRING", "adsi"),
    "ServerBindings": ("MULTISZ", "adsi"),
    "ServerAutoStart": ("BOOL", "adsi"),
    "ServerState": ("DWORD", "adsi"),
    "DefaultDomain": ("STRING", "adsi"),
    "UpdatedDefaultDomain": ("BOOL", "adsi"),
    "FullyQualifiedDomainName": ("STRING", "adsi"),
    "UpdatedFQDN": ("BOOL", "adsi"),
    "AuthFlags": ("DWORD", "adsi"),
    "AccessSSLFlags": ("DWORD", "adsi"),
    "RelayForAuth": ("DWORD", "adsi"),
    "RelayIpList": ("BINARY", "wmi"),
    "IPSecurity": ("IPSECURITY", "adsi"),
    "SmartHost": ("STRING", "adsi"),
    "SmartHostType": ("DWORD", "adsi"),
    "RemoteSmtpPort": ("DWORD", "adsi"),
    "RouteAction": ("DWORD", "adsi"),
    "RouteUserName": ("STRING", "adsi"),
    "RoutePassword": ("SECRET", "adsi"),
    "MaxMessageSize": ("DWORD", "adsi"),
    "MasqueradeDomain": ("STRING", "adsi"),
    "SSLCertHash": ("BINARY", "adsi"),
    "QueueDirectory": ("STRING", "adsi"),
    "PickupDirectory": ("STRING", "adsi"),
    "DropDirectory": ("STRING", "adsi"),
    "BadMailDirectory": ("STRING", "adsi"),
    "AlwaysUseSsl": ("BOOL", "adsi"),
}
DOMAIN_SCHEMA = {
    "RouteAction": ("DWORD", "adsi"),
    "RouteActionString": ("STRING", "adsi"),
    "RouteUserName": ("STRING", "adsi"),
    "RoutePassword": ("SECRET", "adsi"),
    "RelayForAuth": ("DWORD", "adsi"),
}
READ_ONLY = {"ServerState"}
# Child keys of a virtual server as IIS 6 Manager creates it (metabase reference; the container's class inferred).
CHILD_KEYS = {"Domain": "IIsConfigObject", "Root": "IIsSmtpVirtualDir"}
# ServerCommand values (metabase reference, ID 1012).
SERVER_COMMAND = {"start_server": 1, "stop_server": 2}
STARTED, STOPPED = 2, 4
_SPEC = re.compile(r"^([A-Za-z0-9]+):(DWORD|BOOL|STRING|MULTISZ|BINARY|IPSECURITY|SECRET):(adsi|wmi)$")
_DOMAIN_NAME = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9.*-]*$")
PAYLOAD = "iis_smtp"
MODES = ("read", "apply")
OPERATIONS = ("create_server", "delete_server", "start_server", "stop_server", "create_domain", "delete_domain",
              "set_property", "set_secret")


def _fail(code, text):
    raise PayloadFailure("MAILRELAY:%s: %s" % (code, text))


class FakeMetabase:
    """Backend for ``WinPowerShellStub``: ``handle(payload, parameters, secrets) -> document``."""

    def __init__(self, service_status="Running", smtp_installed=True, wmi_installed=True):
        self.service_status = service_status
        self.smtp_installed = smtp_installed
        self.wmi_installed = wmi_installed
        # /LM/SMTPSVC values a virtual server inherits when it does not set its own.
        self.service_props = {"ServerAutoStart": True, "AuthFlags": 1, "MaxMessageSize": 2097152, "RemoteSmtpPort": 25}
        self.servers = {}
        self.refuse = set()
        self.operations_seen = []

    # ---- building a host ---------------------------------------------------------------------
    def add_server(self, name, bindings=(":25:",), started=True, **props):
        index = self._next_index()
        stored = {"ServerComment": name, "ServerBindings": list(bindings)}
        for key, value in props.items():
            self._check_stored(SERVER_SCHEMA, key, value)
            stored[key] = value
        self.servers[index] = {"props": stored, "domains": {}, "state": STARTED if started else STOPPED,
                               "keys": {"Domain": {"class": CHILD_KEYS["Domain"]},
                                        "Root": {"class": CHILD_KEYS["Root"], "path": "C:\\Inetpub\\mailroot"}}}
        return index

    def add_domain(self, index, name, **props):
        for key, value in props.items():
            self._check_stored(DOMAIN_SCHEMA, key, value)
        self.servers[index]["domains"][name.lower()] = {"name": name, "props": dict(props)}

    @classmethod
    def windows_default(cls, **kwargs):
        """A host right after installing the SMTP Server feature: the default virtual server on all addresses."""
        host = cls(**kwargs)
        host.add_server(
            "[SMTP Virtual Server #1]",
            bindings=(":25:",),
            IPSecurity={"GrantByDefault": True, "IPGrant": [], "IPDeny": []},
        )
        return host

    def server_by_name(self, name):
        for index, server in self.servers.items():
            if server["props"].get("ServerComment", "").lower() == name.lower():
                return index, server
        return None, None

    @staticmethod
    def _check_stored(schema, key, value):
        if key not in schema:
            raise KeyError("%s is not a documented property here" % key)
        kind = schema[key][0]
        valid = {
            "DWORD": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 0xFFFFFFFF,
            "BOOL": lambda v: isinstance(v, bool),
            "STRING": lambda v: isinstance(v, str),
            "SECRET": lambda v: isinstance(v, str),
            "MULTISZ": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
            "BINARY": lambda v: isinstance(v, (bytes, bytearray)),
            "IPSECURITY": lambda v: isinstance(v, dict) and set(v) == {"GrantByDefault", "IPGrant", "IPDeny"},
        }[kind]
        if not valid(value):
            raise TypeError("%r is not a %s value for %s" % (value, kind, key))

    def _next_index(self):
        index = 1
        while index in self.servers:
            index += 1
        return index

    # ---- the payload contract ------------------------------------------------------------------
    def handle(self, payload, parameters, secrets):
        if payload != PAYLOAD:
            raise AssertionError("not the IIS SMTP payload: %s" % payload)
        mode = parameters.get("Mode")
        if mode is None:
            raise PayloadFailure("Cannot process command because of one or more missing mandatory parameters: Mode.")
        if mode not in MODES:
            raise PayloadFailure("Cannot validate argument on parameter 'Mode'. The argument \"%s\" does not belong "
                                 "to the set \"%s\" specified by the ValidateSet attribute." % (mode, ",".join(MODES)))
        operations = parameters.get("Operations") or []
        if mode == "apply":
            self._apply(operations, secrets)
        elif operations:
            _fail("bad_operation", "mode read takes no operations")
        return self._read(parameters)

    def _specs(self, texts):
        specs = []
        for text in texts or []:
            match = _SPEC.match(text)
            if not match:
                _fail("bad_spec", "'%s' is not Name:TYPE:adsi|wmi" % text)
            specs.append(match.groups())
        return specs

    def _read(self, parameters):
        server_specs = self._specs(parameters.get("ServerProperties"))
        domain_specs = self._specs(parameters.get("DomainProperties"))
        for name, dummy, via in domain_specs:
            if via != "adsi":
                _fail("bad_spec", "domain property %s is read through ADSI only" % name)
        if not self.smtp_installed:
            _fail("smtp_missing", "the IIS 6 metabase has no SMTPSVC key (Path not found)")
        if any(via == "wmi" for dummy, dummy2, via in server_specs) and not self.wmi_installed:
            _fail("wmi_missing", "root\\MicrosoftIISv2 cannot be read (Invalid namespace)")
        domains_of = parameters.get("DomainsOf") or ""
        servers = []
        for index in sorted(self.servers):
            server = self.servers[index]
            effective = dict(self.service_props)
            effective.update(server["props"])
            effective["ServerState"] = server["state"]
            properties = {name: self._read_value(SERVER_SCHEMA, name, kind, via, effective, "SmtpSvc/%d" % index)
                          for name, kind, via in server_specs}
            domains = None
            if domains_of == "*" or (domains_of and server["props"].get("ServerComment", "").lower() == domains_of.lower()):
                domains = [
                    {"name": domain["name"],
                     "properties": {name: self._read_value(DOMAIN_SCHEMA, name, kind, via, domain["props"], domain["name"])
                                    for name, kind, via in domain_specs}}
                    for dummy, domain in sorted(server["domains"].items())
                ]
            servers.append({"index": index, "properties": properties, "domains": domains})
        # What win_powershell hands back went through JSON on the host: make sure it is JSON.
        return json.loads(json.dumps({"contract": 1, "service": {"status": self.service_status}, "servers": servers}))

    @staticmethod
    def _read_value(schema, name, kind, via, stored, where):
        if name not in schema:
            _fail("read_failed", "%s of %s: The directory property cannot be found in the cache." % (name, where))
        documented_kind, documented_via = schema[name]
        if (kind, via) != (documented_kind, documented_via):
            _fail("read_failed", "%s of %s is %s through %s, not %s through %s" % (name, where, documented_kind, documented_via, kind, via))
        value = stored.get(name)
        if value is None:
            return None
        if kind == "DWORD":
            return value - 0x100000000 if value > 0x7FFFFFFF else value
        if kind == "BINARY":
            return base64.b64encode(bytes(value)).decode("ascii")
        if kind == "SECRET":
            return bool(value)
        if kind == "MULTISZ":
            return list(value)
        if kind == "IPSECURITY":
            return {"grant_by_default": value["GrantByDefault"], "ip_grant": list(value["IPGrant"]), "ip_deny": list(value["IPDeny"])}
        return value

    # ---- apply ----------------------------------------------------------------------------------
    def _apply(self, operations, secrets):
        for operation in operations:
            if operation.get("op") not in OPERATIONS:
                _fail("bad_operation", "unknown operation '%s'" % operation.get("op"))
        secret_table = None
        for operation in operations:
            self.operations_seen.append(operation)
            kind = operation["op"]
            if kind == "create_server":
                self._create_server(operation)
            elif kind == "delete_server":
                del self.servers[self._server_index(operation["server"])]
            elif kind in ("start_server", "stop_server"):
                self._control(operation, STARTED if kind == "start_server" else STOPPED)
            elif kind == "create_domain":
                self._create_domain(operation)
            elif kind == "delete_domain":
                target = self._domains_of(operation)
                key = str(operation.get("domain")).lower()
                if key not in target:
                    _fail("no_domain", "virtual server '%s' has no domain '%s'" % (operation["server"], operation["domain"]))
                del target[key]
            elif kind == "set_property":
                self._set_property(operation)
            else:
                if secret_table is None:
                    if "Secrets" not in secrets:
                        _fail("no_secret", "an operation needs secret '%s' but no secrets were passed" % operation.get("secret"))
                    secret_table = json.loads(secrets["Secrets"])
                if operation.get("secret") not in secret_table:
                    _fail("no_secret", "secret '%s' was not passed" % operation.get("secret"))
                props, schema = self._target(operation)
                self._check_name(schema, operation["name"], "SECRET", "adsi")
                props[operation["name"]] = secret_table[operation["secret"]]

    def _server_index(self, name):
        matches = [index for index, server in self.servers.items() if server["props"].get("ServerComment", "").lower() == str(name).lower()]
        if len(matches) > 1:
            _fail("ambiguous_server", "%d virtual servers are named '%s'" % (len(matches), name))
        if not matches:
            _fail("no_server", "there is no virtual server named '%s'" % name)
        return matches[0]

    def _domains_of(self, operation):
        return self.servers[self._server_index(operation["server"])]["domains"]

    def _target(self, operation):
        index = self._server_index(operation["server"])
        if not operation.get("domain"):
            return self.servers[index]["props"], SERVER_SCHEMA
        domain = self.servers[index]["domains"].get(str(operation["domain"]).lower())
        if domain is None:
            _fail("no_domain", "virtual server '%s' has no domain '%s'" % (operation["server"], operation["domain"]))
        return domain["props"], DOMAIN_SCHEMA

    def _create_server(self, operation):
        name = operation["server"]
        if any(server["props"].get("ServerComment", "").lower() == name.lower() for server in self.servers.values()):
            _fail("server_exists", "a virtual server named '%s' exists already" % name)
        bindings = operation.get("bindings")
        if not isinstance(bindings, list) or not all(isinstance(item, str) for item in bindings):
            raise PayloadFailure("Cannot convert value to type System.Object[] (ServerBindings)")
        keys = {}
        for child in operation.get("children") or []:
            if child.get("name") not in CHILD_KEYS or child.get("class") != CHILD_KEYS[child["name"]]:
                _fail("bad_operation", "'%s' (%s) is not a metabase key this payload creates" % (child.get("name"), child.get("class")))
            keys[child["name"]] = {key: value for key, value in child.items() if key in ("class", "path")}
        self.servers[self._next_index()] = {"props": {"ServerComment": name, "ServerBindings": list(bindings)}, "domains": {},
                                            "state": STOPPED, "keys": keys}

    def _create_domain(self, operation):
        name = str(operation.get("domain"))
        if not _DOMAIN_NAME.match(name):
            _fail("bad_operation", "'%s' is not a domain name" % name)
        server = self.servers[self._server_index(operation["server"])]
        if "Domain" not in server["keys"]:
            if operation.get("container_class") != CHILD_KEYS["Domain"]:
                raise PayloadFailure('Exception calling "Add" with "2" argument(s): "The system cannot find the path specified."')
            server["keys"]["Domain"] = {"class": operation["container_class"]}
        domains = server["domains"]
        if name.lower() in domains:
            raise PayloadFailure('Exception calling "Add" with "2" argument(s): "Cannot create a file when that file already exists."')
        domains[name.lower()] = {"name": name, "props": {}}

    def _control(self, operation, wanted):
        index = self._server_index(operation["server"])
        server = self.servers[index]
        if server["state"] == wanted:
            return
        if self.service_status != "Running":
            _fail("service_stopped", "the SMTPSVC service is not running")
        if operation.get("command") != SERVER_COMMAND[operation["op"]]:
            _fail("control_failed", "%s of '%s' without ServerCommand %d: ServerState does not follow" % (
                operation["op"], operation["server"], SERVER_COMMAND[operation["op"]]))
        if wanted == STARTED:
            mine = set(server["props"].get("ServerBindings") or [])
            for other_index, other in self.servers.items():
                if other_index != index and other["state"] == STARTED and mine & set(other["props"].get("ServerBindings") or []):
                    _fail("control_failed", "virtual server '%s' is in state %d after Start" % (operation["server"], server["state"]))
        server["state"] = wanted

    @staticmethod
    def _check_name(schema, name, kind, via):
        if name not in schema:
            raise PayloadFailure('Exception setting "Value": "The directory property %s cannot be found in the cache."' % name)
        if schema[name] != (kind, via):
            raise PayloadFailure("%s is %s through %s; the operation wrote it as %s through %s" % (name, schema[name][0], schema[name][1], kind, via))

    def _set_property(self, operation):
        props, schema = self._target(operation)
        name, kind, via, value = operation["name"], operation["type"], operation["via"], operation.get("value")
        if name in READ_ONLY:
            raise PayloadFailure('Exception setting "Value": "%s is read-only"' % name)
        self._check_name(schema, name, kind, via)
        stored = self._convert(name, kind, value)
        if name in self.refuse:
            return
        props[name] = stored

    @staticmethod
    def _convert(name, kind, value):
        def cast_error():
            raise PayloadFailure('Cannot convert value "%r" of property %s to the %s the payload casts to' % (value, name, kind))
        if kind == "DWORD":
            if isinstance(value, bool) or not isinstance(value, int) or not -0x80000000 <= value <= 0x7FFFFFFF:
                cast_error()
            return value & 0xFFFFFFFF
        if kind == "BOOL":
            if not isinstance(value, bool):
                cast_error()
            return value
        if kind == "STRING":
            if not isinstance(value, str):
                cast_error()
            return value
        if kind == "MULTISZ":
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                cast_error()
            return list(value)
        if kind == "BINARY":
            try:
                return base64.b64decode(str(value).encode("ascii"), validate=True)
            except (ValueError, binascii.Error):
                cast_error()
        if kind == "IPSECURITY":
            if not isinstance(value, dict) or set(value) != {"grant_by_default", "ip_grant", "ip_deny"}:
                cast_error()
            return {"GrantByDefault": bool(value["grant_by_default"]), "IPGrant": list(value["ip_grant"]), "IPDeny": list(value["ip_deny"])}
        cast_error()
        return None
