# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Exchange accepted domains (the organisation's own domains) and the default domain.

All listed domains are handled in one read and one apply, whatever their
number. A domain is identified by its domain name (exact, case-insensitive),
never by a substring of its display name.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import re

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex
from ansible_collections.mailrelay.smtp.plugins.module_utils._windows_plan import ResourcePlan

DOMAIN_TYPES = {"authoritative": "Authoritative", "internal_relay": "InternalRelay", "external_relay": "ExternalRelay"}
_DOMAIN = re.compile(r"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,62})\.)+[a-z0-9]([a-z0-9-]{0,62})$")


def parse_domain(text, option):
    if not isinstance(text, str):
        raise ex.ExchangeInputError("%s: a domain must be a string" % option)
    domain = text.strip().lower().rstrip(".")
    if not _DOMAIN.match(domain) or len(domain) > 253:
        raise ex.ExchangeInputError("%s: %r is not a domain name (or *.domain)" % (option, text))
    return domain


def build_desired(params):
    entries, seen = [], set()
    for index, item in enumerate(params.get("domains") or []):
        option = "domains[%d]" % index
        domain = parse_domain(item.get("domain"), option + ".domain")
        if domain in seen:
            raise ex.ExchangeInputError("%s.domain: %s is listed twice" % (option, domain))
        seen.add(domain)
        entry = {"domain": domain, "state": item.get("state") or "present"}
        if entry["state"] == "present":
            domain_type = DOMAIN_TYPES[item.get("type") or "authoritative"]
            if domain.startswith("*.") and domain_type == "Authoritative":
                raise ex.ExchangeInputError("%s.type: a wildcard domain cannot be authoritative" % option)
            # A display name cannot hold the wildcard: *.example.com is named "example.com subdomains".
            default_name = domain[2:] + " subdomains" if domain.startswith("*.") else domain
            entry.update(
                name=ex.check_object_name(item.get("name") or default_name, option + ".name"),
                type=domain_type,
                match_subdomains=item.get("match_subdomains"),
            )
        entries.append(entry)
    default = params.get("default_domain")
    if default is not None:
        default = parse_domain(default, "default_domain")
        listed = next((e for e in entries if e["domain"] == default), None)
        if listed is not None and listed["state"] == "absent":
            raise ex.ExchangeInputError("default_domain: %s is also listed with state=absent" % default)
        if default.startswith("*."):
            raise ex.ExchangeInputError("default_domain: a wildcard domain cannot be the default")
    if not entries and default is None:
        raise ex.ExchangeInputError("domains: nothing to manage; list domains or set default_domain")
    return {"domains": entries, "default_domain": default}


def decode(document):
    domains = []
    for raw in document.get("accepted_domains") or []:
        domains.append({
            "name": raw.get("name"),
            "domain": str(raw.get("domain_name") or "").lower(),
            "type": raw.get("domain_type"),
            "default": bool(raw.get("default")),
            "match_subdomains": bool(raw.get("match_subdomains")),
        })
    return domains


def _find(current, domain):
    return next((item for item in current if item["domain"] == domain), None)


def view(current):
    return {
        "accepted_domains": sorted(
            "%s (%s%s%s)" % (
                item["domain"], item["type"], ", default" if item["default"] else "", ", subdomains" if item["match_subdomains"] else ""
            )
            for item in current
        )
    }


def plan(desired, current):
    """The ResourcePlan for the listed domains only; others are left alone."""
    ops = []
    after = {item["domain"]: dict(item) for item in current}
    for entry in desired["domains"]:
        existing = _find(current, entry["domain"])
        if entry["state"] == "absent":
            if existing is None:
                continue
            if existing["default"]:
                raise ex.ExchangeInputError("domains: %s is the default accepted domain and cannot be removed" % entry["domain"])
            ops.append(ex.operation("remove_accepted_domain", entry["domain"], {"Identity": existing["name"]}))
            del after[entry["domain"]]
            continue
        if existing is None:
            clash = next((item for item in current if ex.same_identity(item["name"], entry["name"])), None)
            if clash is not None:
                raise ex.ExchangeInputError(
                    "domains: the name %r is already used by the accepted domain %s; set domains[].name" % (entry["name"], clash["domain"])
                )
            ops.append(ex.operation(
                "new_accepted_domain", entry["domain"], {"Name": entry["name"], "DomainName": entry["domain"], "DomainType": entry["type"]}
            ))
            after[entry["domain"]] = {"name": entry["name"], "domain": entry["domain"], "type": entry["type"], "default": False, "match_subdomains": False}
            existing = {"name": entry["name"], "type": entry["type"], "match_subdomains": False}
        changes = {}
        if existing["type"] != entry["type"]:
            changes["DomainType"] = entry["type"]
        if entry["match_subdomains"] is not None and entry["match_subdomains"] != existing["match_subdomains"]:
            changes["MatchSubDomains"] = entry["match_subdomains"]
        if changes:
            ops.append(ex.operation("set_accepted_domain", entry["domain"], dict(changes, Identity=existing["name"])))
            after[entry["domain"]].update(type=entry["type"], match_subdomains=changes.get("MatchSubDomains", existing["match_subdomains"]))
    default = desired["default_domain"]
    if default is not None and not after.get(default, {}).get("default"):
        if default not in after:
            raise ex.ExchangeInputError("default_domain: %s is not an accepted domain; list it in domains" % default)
        ops.append(ex.operation("set_accepted_domain", "default_domain", {"Identity": after[default]["name"], "MakeDefault": True}))
        for item in after.values():
            item["default"] = item["domain"] == default
    return ResourcePlan(ops, view(current), view(list(after.values())))


def report(current):
    return {
        "accepted_domains": [
            {"name": item["name"], "domain": item["domain"], "type": item["type"], "default": item["default"], "match_subdomains": item["match_subdomains"]}
            for item in current
        ]
    }
