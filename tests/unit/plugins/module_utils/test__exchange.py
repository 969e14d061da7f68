# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared Exchange primitives: IP ranges, bindings, SIDs, identities, sizes, session options."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex


# ---- IP ranges -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, first, last, canonical",
    [
        ("10.0.0.5", "10.0.0.5", "10.0.0.5", "10.0.0.5"),
        (" 10.0.0.5 ", "10.0.0.5", "10.0.0.5", "10.0.0.5"),
        ("10.0.0.0/28", "10.0.0.0", "10.0.0.15", "10.0.0.0/28"),
        ("10.0.0.5/32", "10.0.0.5", "10.0.0.5", "10.0.0.5"),
        ("10.0.0.1-10.0.0.9", "10.0.0.1", "10.0.0.9", "10.0.0.1-10.0.0.9"),
        ("10.0.0.7-10.0.0.7", "10.0.0.7", "10.0.0.7", "10.0.0.7"),
        ("192.168.1.0(255.255.255.0)", "192.168.1.0", "192.168.1.255", "192.168.1.0/24"),
        ("2001:DB8::1", "2001:db8::1", "2001:db8::1", "2001:db8::1"),
        ("2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", "2001:db8::/64"),
        ("2001:db8::1-2001:db8::ff", "2001:db8::1", "2001:db8::ff", "2001:db8::1-2001:db8::ff"),
    ],
)
def test_parse_ip_range_forms(text, first, last, canonical):
    parsed = ex.parse_ip_range(text)
    assert parsed.first == int(ipaddress.ip_address(first))
    assert parsed.last == int(ipaddress.ip_address(last))
    assert parsed.text == canonical


@pytest.mark.parametrize(
    "text, message",
    [
        ("10.0.0.5/24", "host bits set; did you mean 10.0.0.0/24"),
        ("10.0.0.9-10.0.0.1", "starts after it ends"),
        ("10.0.0.1-2001:db8::1", "mixes IPv4 and IPv6"),
        ("10.0.0.300", "is not an IP address"),
        ("mail.example.com", "is not an IP address"),
        ("", "non-empty"),
        ("10.0.0.0/33", "is not a CIDR block"),
    ],
)
def test_parse_ip_range_refuses_with_the_option_name(text, message):
    with pytest.raises(ex.ExchangeInputError, match="remote_ip_ranges") as info:
        ex.parse_ip_range(text)
    assert message in str(info.value)


def test_same_addresses_in_any_notation_compare_equal_and_duplicates_collapse():
    left = ex.parse_ip_ranges(["10.0.0.0/30", "10.0.0.9"])
    right = ex.parse_ip_ranges(["10.0.0.9", "10.0.0.0-10.0.0.3", "10.0.0.0(255.255.255.252)"])
    assert ex.same_ranges(left, right)
    assert [r.text for r in right] == ["10.0.0.9", "10.0.0.0-10.0.0.3"]
    assert not ex.same_ranges(left, ex.parse_ip_ranges(["10.0.0.0/29", "10.0.0.9"]))


@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=32))
def test_cidr_and_range_notation_agree(address, prefix):
    network = ipaddress.ip_network("%s/%d" % (address, prefix), strict=False)
    cidr = ex.parse_ip_range(str(network))
    span = ex.parse_ip_range("%s-%s" % (network.network_address, network.broadcast_address))
    assert cidr.key == span.key
    assert cidr.size == network.num_addresses


@pytest.mark.parametrize(
    "text, broad",
    [
        ("10.0.0.0/24", False),
        ("10.0.0.0/23", True),
        ("10.0.0.0-10.0.1.0", True),
        ("0.0.0.0/0", True),
        ("2001:db8::/64", False),
        ("2001:db8::/63", True),
    ],
)
def test_broad_ranges(text, broad):
    assert ex.parse_ip_range(text).broad is broad


def test_bindings():
    assert ex.parse_bindings(["0.0.0.0:25", "[::]:25", "10.0.0.2:2525", "0.0.0.0:25"]) == [("0.0.0.0", 25), ("::", 25), ("10.0.0.2", 2525)]
    assert ex.format_binding(("::", 25)) == "[::]:25"
    for bad in ("10.0.0.2", "::1:25", "10.0.0.2:70000", "host:25"):
        with pytest.raises(ex.ExchangeInputError, match="bindings"):
            ex.parse_binding(bad)


# ---- sizes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, size", [(36700160, 36700160), ("35MB", 36700160), ("35 mb", 36700160), ("1GB", 1024 ** 3), ("512", 512)])
def test_parse_byte_size(value, size):
    assert ex.parse_byte_size(value) == size


@pytest.mark.parametrize("value", [True, "35 MiB", "-1", 0, "1.5GB"])
def test_parse_byte_size_refuses(value):
    with pytest.raises(ex.ExchangeInputError, match="max_message_size"):
        ex.parse_byte_size(value)


def test_unlimited_only_where_allowed():
    assert ex.parse_byte_size("Unlimited", allow_unlimited=True) == ex.UNLIMITED
    with pytest.raises(ex.ExchangeInputError, match="unlimited is not allowed"):
        ex.parse_byte_size("unlimited")


@pytest.mark.parametrize(
    "text, size",
    [
        ("36 MB (37,748,736 bytes)", 37748736),
        ("36 MB (37.748.736 bytes)", 37748736),  # German digit grouping
        ("10,24 MB (10\u00a0737\u00a0418 bytes)", 10737418),
        ("Unlimited", ex.UNLIMITED),
        ("35MB", 36700160),
        ("", None),
    ],
)
def test_size_from_host_text(text, size):
    assert ex.size_from_host(text) == size


@given(st.integers(min_value=1, max_value=2 ** 40))
def test_size_to_host_round_trips(size):
    assert ex.parse_byte_size(ex.size_to_host(size)) == size


# ---- principals and identities -----------------------------------------------------------------------


def test_principals_by_alias_sid_or_name():
    assert ex.parse_principal("anonymous", "p") == ("S-1-5-7", None)
    assert ex.parse_principal("s-1-5-11", "p") == ("S-1-5-11", None)
    assert ex.parse_principal("CORP\\app-relay", "p") == (None, "CORP\\app-relay")
    # Localized names of well-known principals resolve without asking the host.
    assert ex.parse_principal("NT-AUTORITÄT\\ANONYMOUS-ANMELDUNG", "p") == ("S-1-5-7", "NT-AUTORITÄT\\ANONYMOUS-ANMELDUNG")
    with pytest.raises(ex.ExchangeInputError, match="permissions.0.principal: 'S-1-x' looks like a SID"):
        ex.parse_principal("S-1-x", "permissions.0.principal")


def test_exchange_principals_are_recognised():
    assert ex.is_exchange_principal("S-1-9-1419165041-1139599005-3936102811-1022490595-21")
    assert not ex.is_exchange_principal("S-1-5-7")
    assert not ex.is_exchange_principal(None)


def test_identity_is_exact_and_uses_the_short_server_name():
    assert ex.connector_identity("ex01.corp.example", "mailrelay relay") == "ex01\\mailrelay relay"
    assert ex.same_identity("EX01\\Mailrelay Relay", "ex01\\mailrelay relay")
    assert not ex.same_identity("EX01\\mailrelay relay 2", "EX01\\mailrelay relay")
    assert not ex.same_identity("EX01\\mailrelay", "EX01\\mailrelay relay")


@pytest.mark.parametrize("name", ["Default EX01", "client frontend ex01", "Default Frontend EX01", "Outbound Proxy Frontend EX01", "Client Proxy EX01"])
def test_default_connectors_are_recognised(name):
    assert ex.is_default_connector(name, "ex01.corp.example")


@pytest.mark.parametrize("name", ["Default Relay", "Default EX02", "mailrelay relay", "Default Frontend EX01 copy"])
def test_other_names_are_not_default_connectors(name):
    assert not ex.is_default_connector(name, "EX01")


@pytest.mark.parametrize("name", ["a\\b", "relay*", " relay", "x" * 65, ""])
def test_object_names_that_would_change_identity_are_refused(name):
    with pytest.raises(ex.ExchangeInputError, match="^name: "):
        ex.check_object_name(name, "name")


# ---- session and errors ------------------------------------------------------------------------------------


def test_session_parameters():
    params = {"session": "remote", "connection_uri": "http://ex01.corp.example/PowerShell/", "session_authentication": "kerberos",
              "session_username": "CORP\\mailadmin", "session_password": "secret"}
    assert ex.session_parameters(params) == {
        "Session": "remote", "ConnectionUri": "http://ex01.corp.example/PowerShell/", "Authentication": "Kerberos", "Username": "CORP\\mailadmin",
    }
    assert ex.session_secrets(params) == {"SessionPassword": "secret"}
    assert "secret" not in str(ex.session_parameters(params))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"session": "local", "connection_uri": "http://ex01/PowerShell/"}, "only used with session=remote"),
        ({"session": "remote", "connection_uri": "https://ex01.corp.example/owa/"}, "is not an Exchange endpoint"),
    ],
)
def test_session_parameters_refuse(params, message):
    params = dict({"session_authentication": "kerberos"}, **params)
    with pytest.raises(ex.ExchangeInputError, match=message):
        ex.session_parameters(params)


@pytest.mark.parametrize("code, words", [
    ("snapin_missing", "session=remote"),
    ("endpoint_unreachable", "connection_uri"),
    ("access_denied", "second hop"),
])
def test_error_messages_say_what_to_check(code, words):
    message = ex.error_message("exchange", code, "detail from the host")
    assert words in message and "detail from the host" in message


def test_diff_text_is_one_setting_per_line():
    text = ex.diff_text({"b": ["x", "y"], "a": True, "c": None, "d": []})
    assert text == "a: true\nb:\n  - x\n  - y\nc: (not set)\nd: []\n"
    assert ex.diff_text({}) == "state: absent\n"
