# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compare the records a topology needs (``_dns_records.derive``) with what DNS answers.

The comparison is pure: it asks a ``lookup(name, rtype)`` function, which the
``dns_check`` action builds on dnspython with the resolver the user chose.
Each record needed gets one row: ``ok``, ``missing``, ``different`` (with what
was found) or ``unanswered`` (the resolver gave no verdict).

TXT records share owner names with other TXT records (site verifications at a
domain's apex), so only those of the same kind are compared: ``v=spf1`` with
``v=spf1``, ``v=DKIM1`` with ``v=DKIM1``... Tag lists (DKIM, DMARC, MTA-STS,
TLS-RPT) compare tag by tag, SPF term by term, so spacing and order that mean
nothing never count as a difference.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import ipaddress

STATUSES = ("ok", "missing", "different", "unanswered")


class Unanswered(Exception):
    """The resolver gave no verdict (timeout, SERVFAIL, refused)."""


def _kind(text):
    """The version tag a TXT record starts with (``v=spf1``...), lower-cased, or ''."""
    first = text.strip().split(";")[0].split(" ")[0].strip().lower()
    return first if first.startswith("v=") else ""


def _canonical(rtype, value):
    if rtype in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            return value.strip()
    if rtype in ("MX", "PTR", "CNAME"):
        return " ".join(part.lower() for part in value.split()).rstrip(".") + "."
    if rtype == "TXT":
        if _kind(value) == "v=spf1":
            terms = value.split()
            return ("spf",) + tuple(sorted(term.lower() for term in terms[1:]))
        if _kind(value):
            tags = []
            for part in value.split(";"):
                if "=" in part:
                    tag, tag_value = part.split("=", 1)
                    tags.append((tag.strip().lower(), "".join(tag_value.split())))
            return ("tags",) + tuple(sorted(tags))
        return ("text", value)
    return value


def compare(records, lookup):
    """One row per needed record set: ``{name, type, status, expected, found}``.

    Records of the same owner name and type are compared as a set (two MX
    records of one domain are one row).
    """
    groups = {}
    for record in records:
        key = (record["name"].lower().rstrip("."), record["type"])
        if record["type"] == "TXT":
            key += (_kind(record["value"]),)
        groups.setdefault(key, []).append(record["value"])
    answers = {}
    rows = []
    for key, expected in groups.items():
        name, rtype = key[0], key[1]
        if (name, rtype) not in answers:
            try:
                answers[(name, rtype)] = ("answer", lookup(name, rtype))
            except Unanswered as exc:
                answers[(name, rtype)] = ("unanswered", str(exc))
        verdict, found = answers[(name, rtype)]
        row = {"name": name, "type": rtype, "expected": sorted(expected)}
        if verdict == "unanswered":
            row.update(status="unanswered", found=[found])
            rows.append(row)
            continue
        if rtype == "TXT":
            found = [text for text in found if _kind(text) == key[2]]
        row["found"] = sorted(found)
        if not found:
            row["status"] = "missing"
        elif sorted(map(repr, (_canonical(rtype, value) for value in found))) == sorted(map(repr, (_canonical(rtype, value) for value in expected))):
            row["status"] = "ok"
        else:
            row["status"] = "different"
        rows.append(row)
    return rows


def table(rows, widths=(44, 5, 10)):
    """The rows as a text table; the found value is shown only where it differs."""
    lines = ["%-*s %-*s %-*s %s" % (widths[0], "NAME", widths[1], "TYPE", widths[2], "STATUS", "EXPECTED / FOUND")]
    for row in rows:
        lines.append("%-*s %-*s %-*s %s" % (widths[0], row["name"], widths[1], row["type"], widths[2], row["status"], " | ".join(row["expected"])))
        if row["status"] in ("different", "unanswered"):
            lines.append("%-*s found: %s" % (widths[0] + widths[1] + widths[2] + 2, "", " | ".join(row["found"])))
    return "\n".join(lines)


def dnspython_lookup(nameservers=None, port=53, timeout=5.0):
    """A ``lookup(name, rtype)`` that asks ``nameservers`` (default: the system's resolvers).

    Returns the answers as text (TXT: the character-strings joined); no
    answer or no such name gives ``[]``.
    """
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        resolver.nameservers = list(nameservers)
    resolver.port = port
    resolver.lifetime = timeout

    def lookup(name, rtype):
        try:
            answer = resolver.resolve(name, rtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return []
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            raise Unanswered("no answer: %s" % exc.__class__.__name__)
        values = []
        for rdata in answer.rrset or []:
            if rtype == "TXT":
                values.append(b"".join(rdata.strings).decode("utf-8", "replace"))
            else:
                values.append(rdata.to_text())
        return values

    return lookup
