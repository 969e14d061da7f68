# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The IIS SMTP metabase ground floor: facts, wire format, host document, normalisation, messages."""

from __future__ import annotations

import os

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _iis_ip_security_list, _metabase
from ansible_collections.mailrelay.smtp.plugins.module_utils._metabase import MetabaseError


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


# ---- facts -----------------------------------------------------------------------------------
def test_every_fact_has_a_known_confidence_and_a_source():
    keys = [fact.key for fact in _metabase.FACTS]
    assert len(keys) == len(set(keys))
    for fact in _metabase.FACTS:
        assert fact.confidence in ("high", "medium", "low", "unconfirmed", "policy"), fact
        assert fact.source, fact


def test_flag_tables_come_from_the_facts():
    assert _metabase.AUTH_FLAGS == {"anonymous": 1, "basic": 2, "integrated": 4}
    assert _metabase.SMART_HOST_TYPES == {"none": 0, "dns_first": 1, "always": 2}
    assert _metabase.ROUTE_ACTION["domain_relay"] | _metabase.ROUTE_ACTION["smarthost"] == 4098
    assert _metabase.OUTBOUND_AUTH["basic"] | _metabase.ROUTE_ACTION["ssl"] == 268


def test_codec_constants_are_the_listed_facts():
    assert _metabase.fact("IPSECLIST.header_dword16") == _iis_ip_security_list.HEADER_FLAGS


def test_docs_list_every_fact_that_is_not_high_confidence():
    with open(os.path.join(ROOT, "docs", "windows.md"), encoding="utf-8") as handle:
        text = handle.read()
    missing = [fact.key for fact in _metabase.FACTS if fact.confidence in ("medium", "low", "unconfirmed") and "`%s`" % fact.key not in text]
    assert not missing, "docs/windows.md does not list: %s" % ", ".join(missing)


def test_property_tables_match_the_documented_types_the_fake_uses():
    from ansible_collections.mailrelay.smtp.tests.fakes import fake_metabase
    for prop in _metabase.SERVER_PROPERTIES:
        assert fake_metabase.SERVER_SCHEMA[prop.name] == (prop.type, prop.via), prop
    for prop in _metabase.DOMAIN_PROPERTIES:
        assert fake_metabase.DOMAIN_SCHEMA[prop.name] == (prop.type, prop.via), prop


# ---- wire format ------------------------------------------------------------------------------
DWORD = _metabase.PropertySpec("RelayForAuth", "DWORD", "adsi")


BINARY = _metabase.PropertySpec("RelayIpList", "BINARY", "wmi")


def test_dword_travels_as_signed_int32():
    assert _metabase.to_wire(DWORD, 0xFFFFFFFF) == -1
    assert _metabase.to_wire(DWORD, 0x7FFFFFFF) == 0x7FFFFFFF
    assert _metabase.from_wire(DWORD, -1) == 0xFFFFFFFF
    assert _metabase.from_wire(DWORD, None) is None


def test_binary_travels_as_base64():
    assert _metabase.to_wire(BINARY, b"\x01\x02") == "AQI="
    assert _metabase.from_wire(BINARY, "AQI=") == b"\x01\x02"


@pytest.mark.parametrize("prop, value", [
    (DWORD, "12"), (DWORD, True), (BINARY, "not base64!"),
    (_metabase.PropertySpec("ServerBindings", "MULTISZ", "adsi"), ":25:"),
    (_metabase.PropertySpec("ServerAutoStart", "BOOL", "adsi"), 1),
])
def test_unexpected_host_values_name_the_property(prop, value):
    with pytest.raises(MetabaseError, match=prop.name):
        _metabase.from_wire(prop, value)


def test_decode_document_rejects_a_broken_contract():
    with pytest.raises(MetabaseError, match="servers"):
        _metabase.decode_document({"result": []})
    with pytest.raises(MetabaseError, match="index"):
        _metabase.decode_document({"servers": [{"properties": {}}]})


# ---- normalisation ----------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    ("10.0.0.2", "[10.0.0.2]"), ("[10.0.0.2]", "[10.0.0.2]"), (" Hub.Example.ORG ", "hub.example.org"),
    ("[hub.example.org]", "[hub.example.org]"), ("", ""),
])
def test_smart_host_normalisation(value, expected):
    assert _metabase.normalize_smart_host("smart_host", value) == expected


@pytest.mark.parametrize("value", ["10.0.0.2:25", "bad host", "-x.example"])
def test_smart_host_rejects(value):
    with pytest.raises(MetabaseError, match="smart_host"):
        _metabase.normalize_smart_host("smart_host", value)


def test_binding_strings():
    assert _metabase.parse_binding("192.0.2.10:587:") == ("192.0.2.10", 587)
    assert _metabase.parse_binding(":25:") == ("", 25)
    assert _metabase.describe_binding("", 25) == "*:25"
    with pytest.raises(MetabaseError, match="ServerBindings"):
        _metabase.parse_binding("garbage")


def test_error_message_hints():
    assert "install SMTP-Server" in _metabase.error_message("iis_smtp", "smtp_missing", "no key")
    assert _metabase.error_message("iis_smtp", None, "Access is denied") == "iis_smtp failed on the host: Access is denied"
