# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dns_check

NEEDED = [
    {"name": "example.org", "type": "MX", "value": "10 mx1.example.org."},
    {"name": "example.org", "type": "MX", "value": "10 mx2.example.org."},
    {"name": "example.org", "type": "TXT", "value": "v=spf1 ip4:192.0.2.2 ip6:2001:db8::2 ~all"},
    {"name": "_dmarc.example.org", "type": "TXT", "value": "v=DMARC1; p=none; rua=mailto:postmaster@example.org"},
    {"name": "s1-hub._domainkey.example.org", "type": "TXT", "value": "v=DKIM1; k=rsa; p=MIIBIjANBg"},
    {"name": "mx2.example.org", "type": "AAAA", "value": "2001:db8::25"},
]


def answers(changes=None):
    published = {
        ("example.org", "MX"): ["10 MX2.example.org.", "10 mx1.example.org."],
        # Another TXT at the apex does not count; spacing and order inside SPF do not either.
        ("example.org", "TXT"): ["google-site-verification=abc", "v=spf1  ip6:2001:db8::2 ip4:192.0.2.2 ~all"],
        ("_dmarc.example.org", "TXT"): ["v=DMARC1;p=none;  rua=mailto:postmaster@example.org"],
        ("s1-hub._domainkey.example.org", "TXT"): ["v=DKIM1; k=rsa; p=MIIB IjANBg"],
        ("mx2.example.org", "AAAA"): ["2001:db8:0::25"],
    }
    published.update(changes or {})

    def lookup(name, rtype):
        value = published.get((name, rtype), [])
        if isinstance(value, Exception):
            raise value
        return value

    return lookup


def statuses(rows):
    return {(row["name"], row["type"]): row["status"] for row in rows}


def test_everything_published_as_needed_is_ok_whatever_the_spelling():
    rows = _dns_check.compare(NEEDED, answers())
    assert set(statuses(rows).values()) == {"ok"}
    # Two MX records of one domain are one record set.
    assert len(rows) == 5


def test_one_wrong_record_is_reported_with_what_was_found():
    rows = _dns_check.compare(NEEDED, answers({("_dmarc.example.org", "TXT"): ["v=DMARC1; p=reject"]}))
    bad = [row for row in rows if row["status"] != "ok"]
    assert bad == [{
        "name": "_dmarc.example.org",
        "type": "TXT",
        "status": "different",
        "expected": ["v=DMARC1; p=none; rua=mailto:postmaster@example.org"],
        "found": ["v=DMARC1; p=reject"],
    }]
    text = _dns_check.table(bad)
    assert "_dmarc.example.org" in text and "different" in text and "found: v=DMARC1; p=reject" in text


def test_missing_extra_mx_two_spf_records_and_no_verdict():
    rows = _dns_check.compare(NEEDED, answers({
        ("example.org", "MX"): ["10 mx1.example.org.", "10 mx2.example.org.", "20 old.example.org."],
        ("example.org", "TXT"): ["v=spf1 ip4:192.0.2.2 ip6:2001:db8::2 ~all", "v=spf1 -all"],
        ("s1-hub._domainkey.example.org", "TXT"): [],
        ("mx2.example.org", "AAAA"): _dns_check.Unanswered("no answer: Timeout"),
    }))
    assert statuses(rows) == {
        ("example.org", "MX"): "different",
        ("example.org", "TXT"): "different",
        ("_dmarc.example.org", "TXT"): "ok",
        ("s1-hub._domainkey.example.org", "TXT"): "missing",
        ("mx2.example.org", "AAAA"): "unanswered",
    }


def test_a_txt_record_of_another_kind_at_the_name_means_missing():
    rows = _dns_check.compare(NEEDED[2:3], answers({("example.org", "TXT"): ["google-site-verification=abc"]}))
    assert rows[0]["status"] == "missing" and rows[0]["found"] == []
