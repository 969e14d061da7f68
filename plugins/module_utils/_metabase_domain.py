# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IIS SMTP domains (``/LM/SMTPSVC/n/Domain/<name>``): options, views and plans.

Remote domains (relay allowed, smart host, outbound security) and alias domains
of one virtual server; the default domain is the server's (iis_smtp_server's
``default_domain``) and never managed here. It never talks to a host.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils._metabase import (
    ALLOW_RELAY_TO_DOMAIN,
    Domain,
    DOMAIN_MANAGED_MASK,
    DOMAIN_SPEC,
    flag_names,
    MetabaseError,
    MetabasePlan,
    normalize_domain,
    normalize_smart_host,
    OUTBOUND_AUTH,
    outbound_auth,
    password_due,
    ROUTE_ACTION,
    secret_operation,
    SERVER_CHILD_KEYS,
    set_operation,
)


def domain_open_relay_risks(domain_views):
    risks = []
    for view in domain_views:
        if view.get("type") == "remote" and view.get("allow_relay") and _is_broad_domain(view["name"]):
            risks.append("remote domain %s allows relay to every matching domain" % view["name"])
    return risks


def _is_broad_domain(name):
    return name == "*" or (name.startswith("*.") and "." not in name[2:])


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
            authentication=outbound_auth(route_action),
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


class DomainPlan(MetabasePlan):
    """The plan of the domains of one virtual server."""


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
                ops.append(set_operation(server_name, DOMAIN_SPEC[prop], value, domain=domain_name))
        if spec.get("allow_relay"):
            plan.relies_on_fact("RouteAction.domain_relay")
        merged = dict(props)
        merged.update(target)
        password = spec.get("password")
        password_written = password is not None and password_due(props, merged, domain is None, update_password)
        if password_written:
            secret_key = "domain:" + spec["name"]
            ops.append(secret_operation(server_name, secret_key, domain=domain_name))
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
