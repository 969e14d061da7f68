# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Exchange receive connectors and their extended-right permissions.

``build_desired`` validates the module options; ``plan`` compares them with
what the payload read and produces the typed operations of its apply
mode: at most one New/Set/Remove-ReceiveConnector call plus one
Add/Remove-ADPermission call per principal, all in one apply round trip.

Permissions are compared by security identifier (``S-1-5-7`` is ANONYMOUS
LOGON whatever the language of Active Directory), never by display name and
never by substring. In exclusive mode every explicit (non-inherited)
receive-connector right that is neither declared nor granted by one of the
connector's permission groups is removed; inherited entries and Exchange's own
S-1-9 principals are left alone.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex
from ansible_collections.mailrelay.smtp.plugins.module_utils._windows_plan import ResourcePlan

TRANSPORT_ROLES = ("FrontendTransport", "HubTransport")
PERMISSION_GROUPS = ("AnonymousUsers", "ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers", "Partners")
AUTH_MECHANISMS = ("None", "Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer", "ExternalAuthoritative")
DEFAULT_BINDINGS = ("0.0.0.0:25",)

RELAY_RIGHT = "ms-Exch-SMTP-Accept-Any-Recipient"
SUBMIT_RIGHT = "ms-Exch-SMTP-Submit"
# Receive connector extended rights (Microsoft: "Receive connector permissions").
RECEIVE_RIGHTS = (
    "ms-Exch-SMTP-Submit",
    "ms-Exch-SMTP-Accept-Any-Recipient",
    "ms-Exch-SMTP-Accept-Any-Sender",
    "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender",
    "ms-Exch-SMTP-Accept-Authentication-Flag",
    "ms-Exch-SMTP-Accept-Exch50",
    "ms-Exch-Accept-Headers-Routing",
    "ms-Exch-Accept-Headers-Organization",
    "ms-Exch-Accept-Headers-Forest",
    "ms-Exch-Accept-Exch50",
    "ms-Exch-Bypass-Message-Size-Limit",
    "ms-Exch-Bypass-Anti-Spam",
)
_RIGHT_PREFIXES = ("ms-exch-smtp-", "ms-exch-accept-", "ms-exch-bypass-")

# What a permission group writes on the connector, for the groups whose principals are
# well-known Windows SIDs (public Exchange material; not confirmed on a live host).
# The other groups use Exchange's S-1-9 principals, which this module never touches.
GROUP_PERMISSIONS = {
    "AnonymousUsers": (
        ex.ANONYMOUS_LOGON_SID,
        (
            "ms-Exch-SMTP-Submit",
            "ms-Exch-SMTP-Accept-Any-Sender",
            "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender",
            "ms-Exch-Accept-Headers-Routing",
        ),
    ),
    "ExchangeUsers": (
        ex.AUTHENTICATED_USERS_SID,
        (
            "ms-Exch-SMTP-Submit",
            "ms-Exch-SMTP-Accept-Any-Recipient",
            "ms-Exch-Bypass-Anti-Spam",
            "ms-Exch-Accept-Headers-Routing",
        ),
    ),
}

# Principals whose relay right makes a connector an anonymous relay.
_ANONYMOUS_SIDS = (ex.ANONYMOUS_LOGON_SID, ex.EVERYONE_SID)


def is_receive_right(right):
    return isinstance(right, str) and right.casefold().startswith(_RIGHT_PREFIXES)


def _known_right(right):
    """The documented spelling of a receive connector right, or None."""
    return next((known for known in RECEIVE_RIGHTS if known.casefold() == right.casefold()), None)


def canonical_right(right, option):
    known = _known_right(str(right).strip())
    if known:
        return known
    raise ex.ExchangeInputError("%s: %r is not a receive connector permission (%s)" % (option, right, ", ".join(RECEIVE_RIGHTS)))


class Permission:
    """One extended right granted (or denied) to one principal on a connector."""

    __slots__ = ("sid", "name", "right", "deny", "inherited")

    def __init__(self, sid, name, right, deny=False, inherited=False):
        self.sid = sid
        self.name = name
        self.right = right
        self.deny = bool(deny)
        self.inherited = bool(inherited)

    @property
    def principal(self):
        # What the cmdlets receive as -User: the SID whenever it is known, so that a localized
        # account name never matters.
        return self.sid or self.name

    @property
    def key(self):
        principal = self.sid if self.sid else "name:" + (self.name or "").casefold()
        return (principal, self.right.casefold(), self.deny)

    def text(self):
        who = self.sid or "?"
        if self.name and self.name != self.sid:
            who = "%s (%s)" % (who, self.name)
        return "%s %s %s%s" % ("DENY" if self.deny else "ALLOW", who, self.right, " [inherited]" if self.inherited else "")

    def as_dict(self):
        return {"sid": self.sid, "user": self.name, "right": self.right, "deny": self.deny, "inherited": self.inherited}


def group_permissions(groups):
    found = []
    for group in groups:
        sid, rights = GROUP_PERMISSIONS.get(group, (None, ()))
        found.extend(Permission(sid, None, right) for right in rights)
    return found


# ---- desired state -------------------------------------------------------------------------------


def _choices(values, choices, option):
    return ex.unique(ex.canonical_choice(value, choices, "%s[%d]" % (option, index)) for index, value in enumerate(values))


def principal_names(params):
    """Account names (not SIDs or aliases) the payload must translate to SIDs (in its read)."""
    names = []
    for index, item in enumerate(params.get("permissions") or []):
        sid, name = ex.parse_principal(item.get("principal"), "permissions[%d].principal" % index)
        if not sid and name not in names:
            names.append(name)
    return names


def build_desired(params):
    """Validated, normalised options. Raises ExchangeInputError naming the option."""
    server = ex.check_server_name(params["server"])
    name = ex.check_object_name(params["name"], "name")
    if ex.is_default_connector(name, server):
        raise ex.ExchangeInputError(
            "name: %r is one of Exchange's default receive connectors; this module only manages dedicated connectors "
            "(choose another name)" % name
        )
    desired = {
        "server": server,
        "name": name,
        "identity": ex.connector_identity(server, name),
        "state": params["state"],
    }
    if params["state"] == "absent":
        return desired
    ranges = ex.parse_ip_ranges(params.get("remote_ip_ranges"))
    if not ranges:
        raise ex.ExchangeInputError("remote_ip_ranges: at least one address or range is required when state=present")
    groups = None if params.get("permission_groups") is None else _choices(params["permission_groups"], PERMISSION_GROUPS, "permission_groups")
    mechanisms = None
    if params.get("auth_mechanisms") is not None:
        mechanisms = _choices(params["auth_mechanisms"], AUTH_MECHANISMS, "auth_mechanisms")
        if "None" in mechanisms:
            if len(mechanisms) > 1:
                raise ex.ExchangeInputError("auth_mechanisms: None cannot be combined with other mechanisms")
            mechanisms = []
        if "BasicAuthRequireTLS" in mechanisms and not {"BasicAuth", "Tls"} <= set(mechanisms):
            raise ex.ExchangeInputError("auth_mechanisms: BasicAuthRequireTLS needs BasicAuth and Tls as well")
    if params.get("require_tls") and mechanisms is not None and "Tls" not in mechanisms:
        raise ex.ExchangeInputError("require_tls: needs Tls in auth_mechanisms")
    permissions = []
    for index, item in enumerate(params.get("permissions") or []):
        option = "permissions[%d]" % index
        sid, account = ex.parse_principal(item.get("principal"), option + ".principal")
        rights = item.get("rights") or []
        if not rights:
            raise ex.ExchangeInputError("%s.rights: at least one right is required" % option)
        for right_index, right in enumerate(rights):
            permissions.append(Permission(sid, account, canonical_right(right, "%s.rights[%d]" % (option, right_index)), item.get("deny")))
    if params.get("anonymous_relay"):
        permissions.append(Permission(ex.ANONYMOUS_LOGON_SID, None, RELAY_RIGHT))
    desired.update(
        transport_role=ex.canonical_choice(params.get("transport_role") or "FrontendTransport", TRANSPORT_ROLES, "transport_role"),
        bindings=None if params.get("bindings") is None else ex.parse_bindings(params["bindings"]),
        remote_ip_ranges=ranges,
        permission_groups=groups,
        auth_mechanisms=mechanisms,
        require_tls=params.get("require_tls"),
        fqdn=params.get("fqdn"),
        max_message_size=ex.parse_byte_size(params.get("max_message_size")),
        enabled=params.get("enabled"),
        permissions=permissions,
        exclusive=params.get("exclusive", True),
        allow_broad_relay=bool(params.get("allow_broad_relay")),
    )
    if desired["bindings"] == []:
        raise ex.ExchangeInputError("bindings: at least one ADDRESS:PORT is required")
    _check_relay_scope(desired)
    return desired


def _grants_anonymous_relay(permissions):
    return any(p.right == RELAY_RIGHT and not p.deny and p.sid in _ANONYMOUS_SIDS for p in permissions)


def _check_relay_scope(desired):
    if not _grants_anonymous_relay(desired["permissions"]) or desired["allow_broad_relay"]:
        return
    broad = [item.text for item in desired["remote_ip_ranges"] if item.broad]
    if broad:
        raise ex.ExchangeInputError(
            "remote_ip_ranges: anonymous relay would be open to %s (more than %d IPv4 addresses or a /64 of IPv6 "
            "in one entry); list the relay clients themselves, or set allow_broad_relay=true if this is really meant"
            % (", ".join(broad), ex.BROAD_IPV4_ADDRESSES)
        )


def resolve_declared(desired, principal_sids):
    """Fill in SIDs the host translated from account names (the payload's ``principal_sids``)."""
    for permission in desired.get("permissions", []):
        if not permission.sid and permission.name:
            for name, sid in (principal_sids or {}).items():
                if ex.same_identity(name, permission.name) and sid and ex.is_sid(sid):
                    permission.sid = ex.normalize_sid(sid)
    return desired


# ---- current state --------------------------------------------------------------------------------------


def decode_permissions(entries):
    """Expand the payload's ADPermission entries into one Permission per receive right."""
    permissions = []
    for entry in entries or []:
        sid = entry.get("sid")
        sid = ex.normalize_sid(sid) if ex.is_sid(sid) else ex.sid_for_well_known_name(entry.get("user"))
        for right in entry.get("extended_rights") or []:
            if is_receive_right(right):
                permissions.append(Permission(sid, entry.get("user"), _known_right(right) or right, entry.get("deny"), entry.get("inherited")))
    return permissions


def decode_connector(raw):
    """The payload's view of one connector -> comparable values."""
    ranges = []
    for text in raw.get("remote_ip_ranges") or []:
        try:
            ranges.append(ex.parse_ip_range(text))
        except ex.ExchangeInputError:
            # Keep what we cannot parse visible rather than silently equal to anything.
            ranges.append(ex.IPRange(0, 0, -1, str(text)))
    bindings = []
    for text in raw.get("bindings") or []:
        try:
            bindings.append(ex.parse_binding(text))
        except ex.ExchangeInputError:
            bindings.append((str(text), 0))
    return {
        "identity": raw.get("identity"),
        "name": raw.get("name"),
        "server": raw.get("server"),
        "transport_role": raw.get("transport_role"),
        "bindings": bindings,
        "remote_ip_ranges": ranges,
        "permission_groups": [g for g in ex.split_flags(raw.get("permission_groups")) if g != "Custom"],
        "auth_mechanisms": ex.split_flags(raw.get("auth_mechanism")),
        "require_tls": bool(raw.get("require_tls")),
        "fqdn": raw.get("fqdn") or None,
        "max_message_size": ex.size_from_host(raw.get("max_message_size")),
        "enabled": bool(raw.get("enabled", True)),
        "distinguished_name": raw.get("distinguished_name"),
        "permissions": decode_permissions(raw.get("permissions")),
    }


def find_connector(document, identity):
    """The connector with exactly this ``SERVER\\Name`` identity, decoded, or None."""
    raw = ex.find_raw(document, "receive_connectors", "identity", identity)
    return None if raw is None else decode_connector(raw)


def is_anonymous_relay(permissions):
    """Effective relay right for anonymous senders: an ALLOW and no DENY (explicit or inherited)."""
    denied = any(p.right == RELAY_RIGHT and p.deny and p.sid in _ANONYMOUS_SIDS for p in permissions)
    return _grants_anonymous_relay(permissions) and not denied


# ---- plan ----------------------------------------------------------------------------------------------------


def view(connector):
    """Readable state for diff and results (explicit permissions only; inherited ones are not managed)."""
    if connector is None:
        return {}
    mechanisms = connector["auth_mechanisms"]
    return {
        "identity": connector["identity"],
        "transport_role": connector["transport_role"],
        "bindings": [ex.format_binding(b) for b in connector["bindings"]],
        "remote_ip_ranges": [r.text for r in connector["remote_ip_ranges"]],
        "permission_groups": list(connector["permission_groups"]),
        # None: not managed and not known yet (Exchange's default on a new connector).
        "auth_mechanisms": None if mechanisms is None else (list(mechanisms) or ["None"]),
        "require_tls": connector["require_tls"],
        "fqdn": connector["fqdn"],
        "max_message_size": ex.format_size(connector["max_message_size"]),
        "enabled": connector["enabled"],
        "permissions": sorted(p.text() for p in connector["permissions"] if not p.inherited),
    }


def _grouped(permissions):
    """One cmdlet call per (principal, allow/deny): ``[(principal, deny, [rights])]`` in a stable order."""
    groups = {}
    for permission in permissions:
        groups.setdefault((permission.principal, permission.deny), []).append(permission.right)
    return [(principal, deny, sorted(set(rights))) for (principal, deny), rights in sorted(groups.items(), key=lambda item: (str(item[0][0]), item[0][1]))]


def _permission_ops(kind, target, permissions):
    """``target``: ``{"target_dn": DN}`` of an existing connector or ``{"target_new": identity}`` of one
    created earlier in the same apply call (the payload knows its DN from New-ReceiveConnector)."""
    ops = []
    verb = "grant" if kind == "add_ad_permission" else "remove"
    for principal, deny, rights in _grouped(permissions):
        parameters = {"User": principal, "ExtendedRights": rights}
        if deny:
            parameters["Deny"] = True
        name = "%s %s %s %s" % (verb, "DENY" if deny else "ALLOW", principal, ", ".join(rights))
        ops.append(ex.operation(kind, name, parameters, **target))
    return ops


def _check_relay_has_submit(desired, groups):
    if not _grants_anonymous_relay(desired["permissions"]):
        return
    submit_declared = any(p.right == SUBMIT_RIGHT and p.sid == ex.ANONYMOUS_LOGON_SID and not p.deny for p in desired["permissions"])
    if "AnonymousUsers" not in groups and not submit_declared:
        raise ex.ExchangeInputError(
            "permission_groups: anonymous relay needs AnonymousUsers (anonymous senders cannot submit mail otherwise)"
        )


def plan(desired, current):
    """The ResourcePlan that takes ``current`` (or None) to ``desired``."""
    identity = desired["identity"]
    before = view(current)
    if desired["state"] == "absent":
        if current is None:
            return ResourcePlan([], before, {})
        return ResourcePlan([ex.operation("remove_receive_connector", "state", {"Identity": identity})], before, {})

    groups = desired["permission_groups"] if desired["permission_groups"] is not None else (current or {}).get("permission_groups", [])
    _check_relay_has_submit(desired, groups)
    declared = desired["permissions"]
    ops = []

    if current is None:
        bindings = desired["bindings"] if desired["bindings"] is not None else ex.parse_bindings(list(DEFAULT_BINDINGS))
        parameters = {
            "Name": desired["name"],
            "Server": desired["server"],
            "TransportRole": desired["transport_role"],
            "Custom": True,
            "Bindings": [ex.format_binding(b) for b in bindings],
            "RemoteIPRanges": [r.text for r in desired["remote_ip_ranges"]],
        }
        parameters.update(_settings(desired, None))
        ops.append(ex.operation("new_receive_connector", "state", parameters, identity=identity))
        implied = group_permissions(groups)
        implied_keys = {p.key for p in implied}
        ops.extend(_permission_ops("add_ad_permission", {"target_new": identity}, [p for p in _unique(declared) if p.key not in implied_keys]))
        after_permissions = _unique(implied + declared)
        after = _after_view(desired, None, bindings, groups, after_permissions)
        return ResourcePlan(ops, before, after)

    if current["transport_role"] and current["transport_role"].casefold() != desired["transport_role"].casefold():
        raise ex.ExchangeInputError(
            "transport_role: %s exists in %s; the transport role of a connector cannot be changed "
            "(remove it first or choose another name)" % (identity, current["transport_role"])
        )
    changes = _settings(desired, current)
    if desired["bindings"] is not None and set(desired["bindings"]) != set(current["bindings"]):
        changes["Bindings"] = [ex.format_binding(b) for b in desired["bindings"]]
    if not ex.same_ranges(desired["remote_ip_ranges"], current["remote_ip_ranges"]):
        changes["RemoteIPRanges"] = [r.text for r in desired["remote_ip_ranges"]]
    if changes:
        names = sorted(_FIELD_OF.get(key, key) for key in changes)
        ops.append(ex.operation("set_receive_connector", ", ".join(names), dict(changes, Identity=identity)))

    # Exchange rewrites the permissions of permission groups when they change; plan against that result.
    explicit = [p for p in current["permissions"] if not p.inherited]
    dropped = set(current["permission_groups"]) - set(groups)
    added = set(groups) - set(current["permission_groups"])
    vanishing = {p.key for p in group_permissions(sorted(dropped))}
    effective = [p for p in explicit if p.key not in vanishing] + group_permissions(sorted(added))
    effective_keys = {p.key for p in effective}
    wanted = _unique(group_permissions(groups) + declared)
    wanted_keys = {p.key for p in wanted}

    removals = []
    if desired["exclusive"]:
        removals = [p for p in _unique(effective) if p.key not in wanted_keys and not ex.is_exchange_principal(p.sid)]
    additions = [p for p in _unique(declared) if p.key not in effective_keys]
    target = {"target_dn": current["distinguished_name"]}
    ops.extend(_permission_ops("remove_ad_permission", target, removals))
    ops.extend(_permission_ops("add_ad_permission", target, additions))

    removal_keys = {p.key for p in removals}
    after_permissions = [p for p in _unique(effective) if p.key not in removal_keys] + additions
    bindings = desired["bindings"] if desired["bindings"] is not None else current["bindings"]
    after = _after_view(desired, current, bindings, groups, after_permissions)
    return ResourcePlan(ops, before, after)


_FIELD_OF = {
    "Bindings": "bindings",
    "RemoteIPRanges": "remote_ip_ranges",
    "PermissionGroups": "permission_groups",
    "AuthMechanism": "auth_mechanisms",
    "RequireTLS": "require_tls",
    "Fqdn": "fqdn",
    "MaxMessageSize": "max_message_size",
    "Enabled": "enabled",
}


def _settings(desired, current):
    """Cmdlet parameters for the managed scalar settings that differ from ``current`` (all of them when None)."""
    changes = {}
    if desired["permission_groups"] is not None and (current is None or set(desired["permission_groups"]) != set(current["permission_groups"])):
        changes["PermissionGroups"] = ex.join_flags(desired["permission_groups"])
    if desired["auth_mechanisms"] is not None and (current is None or set(desired["auth_mechanisms"]) != set(current["auth_mechanisms"])):
        changes["AuthMechanism"] = ex.join_flags(desired["auth_mechanisms"])
    if desired["require_tls"] is not None and (current is None or desired["require_tls"] != current["require_tls"]):
        changes["RequireTLS"] = desired["require_tls"]
    if desired["fqdn"] is not None and (current is None or (current["fqdn"] or "").casefold() != desired["fqdn"].casefold()):
        changes["Fqdn"] = desired["fqdn"]
    if desired["max_message_size"] is not None and (current is None or desired["max_message_size"] != current["max_message_size"]):
        changes["MaxMessageSize"] = ex.size_to_host(desired["max_message_size"])
    if desired["enabled"] is not None and (current is None or desired["enabled"] != current["enabled"]):
        changes["Enabled"] = desired["enabled"]
    return changes


def _unique(permissions):
    return ex.unique(permissions, key=lambda permission: permission.key)


# Settings the task may leave unmanaged (None in ``desired``): after the change they keep the host's value.
_OPTIONAL_SETTINGS = ("auth_mechanisms", "require_tls", "fqdn", "max_message_size", "enabled")


def _after_view(desired, current, bindings, groups, permissions):
    """``view`` of the connector once the plan has run (None for what a new connector gets by default)."""
    after = dict(desired, bindings=bindings, permission_groups=groups, permissions=permissions)
    after.update((key, ex.desired_or_current(desired, current, key)) for key in _OPTIONAL_SETTINGS)
    return view(after)


def report(current):
    """Return values: the connector and the relay verdict (inherited permissions included)."""
    if current is None:
        return {"connector": {}, "permissions": [], "anonymous_relay": False}
    connector = view(current)
    connector.pop("permissions")
    connector["distinguished_name"] = current["distinguished_name"]
    return {
        "connector": connector,
        "permissions": [p.as_dict() for p in current["permissions"]],
        "anonymous_relay": is_anonymous_relay(current["permissions"]),
    }
