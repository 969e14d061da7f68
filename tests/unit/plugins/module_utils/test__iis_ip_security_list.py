# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The IPSECLIST codec: golden vectors from public samples, round trips, malformed blobs.

Vectors V1..V8 are those of windows-facts.md; each notes its confidence. None
was produced on a live host by this project.
"""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mailrelay.smtp.plugins.module_utils._iis_ip_security_list import (
    AccessList,
    IpSecurityListError,
    decode_blob,
    decode_strings,
    encode_blob,
    encode_strings,
    format_address_mask,
    parse_address_mask,
    parse_entry,
)


def words(text):
    return bytes.fromhex(text.replace(" ", ""))


def dotted(quads):
    """The dotted-quad form Salt's docstrings print WMI's uint8[] in."""
    return bytes(int(octet) for quad in quads for octet in quad.split("."))


# V1 (medium-high): deny by default, grant list holds one /32 entry without addresses
# (the template public scripts start from; also "only the list below" with nothing in it).
V1 = words(
    "18000080 20000080 3c000080 44000080 01000000 4c000000"
    " 00000000 00000000"
    " 01000000 00000000 02000000 01000000 04000000 00000000 4c000080"
    " 00000000 00000000 00000000 00000000"
    " ffffffff"
)
# V2 (high): V1 with byte 36 -> 1 and byte 44 -> 2, then 127.0.0.1: relay for 127.0.0.1 only.
# The same bytes appear, as dotted quads, in Salt's win_smtp_server module docstring (a GUI capture).
SALT_MODULE_DOCSTRING = [
    "24.0.0.128", "32.0.0.128", "60.0.0.128", "68.0.0.128", "1.0.0.0", "76.0.0.0",
    "0.0.0.0", "0.0.0.0", "1.0.0.0", "1.0.0.0", "2.0.0.0", "2.0.0.0", "4.0.0.0",
    "0.0.0.0", "76.0.0.128", "0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0",
    "255.255.255.255", "127.0.0.1",
]
# Salt's *state* docstring prints the same list without 68.0.0.128: a corrupt blob (pitfall in the facts file).
SALT_STATE_DOCSTRING = [quad for quad in SALT_MODULE_DOCSTRING if quad != "68.0.0.128"]


def v3(addresses):
    """V3 (high): the template plus N: byte 36 += N, byte 44 += N, N addresses appended."""
    blob = bytearray(V1)
    blob[36] += len(addresses)
    blob[44] += len(addresses)
    for address in addresses:
        blob += ipaddress.IPv4Address(address).packed
    return bytes(blob)


GOLDEN = [
    # (name, blob, model, confidence)
    ("V1 deny by default, empty", V1, AccessList(False), "medium-high"),
    ("V2 relay for 127.0.0.1 only", v3(["127.0.0.1"]), AccessList(False, ["127.0.0.1/32"]), "high"),
    ("V3 three hosts", v3(["10.0.0.1", "10.0.0.2", "10.0.0.3"]), AccessList(False, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]), "high"),
    ("V6 empty value grants all", b"", AccessList(True), "high"),
    # V7 (low): "all deny, no IPs" as a KISA audit script writes it: the grant list holds 0.0.0.0.
    ("V7 KISA all deny", v3(["0.0.0.0"]), AccessList(False, ["0.0.0.0/32"]), "low"),
]


@pytest.mark.parametrize("name, blob, model, confidence", GOLDEN, ids=[item[0] for item in GOLDEN])
def test_golden_vector_decodes(name, blob, model, confidence):
    assert decode_blob(blob) == model


@pytest.mark.parametrize("name, blob, model, confidence", GOLDEN, ids=[item[0] for item in GOLDEN])
def test_golden_vector_encodes(name, blob, model, confidence):
    assert encode_blob(model) == blob


def test_v2_equals_salts_gui_capture():
    assert dotted(SALT_MODULE_DOCSTRING) == v3(["127.0.0.1"])
    assert decode_blob(dotted(SALT_MODULE_DOCSTRING)) == AccessList(False, ["127.0.0.1"])


def test_v4_kisa_two_hosts_prefix_and_suffix():
    # V4 (medium): prefix and suffix published, middle derived.
    blob = encode_blob(AccessList(False, ["192.168.171.2", "192.168.171.1"]))
    assert blob.startswith(words("18000080 20000080 3c"))
    assert blob.endswith(words("ffffffff c0a8ab01 c0a8ab02"))
    assert decode_blob(blob) == AccessList(False, ["192.168.171.1", "192.168.171.2"])


def test_v5_grant_by_default_moves_the_grant_list():
    # V5: prefix high confidence (deny list at 24, grant list at 52), the rest inferred (low).
    blob = encode_blob(AccessList(True, ["192.0.2.10"]))
    assert blob.startswith(words("18000080 34000080 3c"))
    assert blob.endswith(words("ffffffff c000020a"))
    deny_entries, deny_addresses = struct.unpack_from("<II", blob, 24)
    grant_entries, grant_addresses = struct.unpack_from("<II", blob, 52)
    assert (deny_entries, deny_addresses, grant_entries, grant_addresses) == (1, 1, 0, 0)
    assert decode_blob(blob) == AccessList(True, ["192.0.2.10"])


def test_v8_network_uses_full_mask_bytes():
    # V8 (derived, low): 192.168.1.0/24 -> cFullMaskBytes 3, data ffffff00 c0a80100.
    blob = encode_blob(AccessList(False, ["192.168.1.0/24"]))
    family, count, full_bytes, last_byte = struct.unpack_from("<IIII", blob, 40)
    assert (family, count, full_bytes, last_byte) == (2, 2, 3, 0)
    assert blob.endswith(words("ffffff00 c0a80100"))


def test_partial_mask_byte():
    blob = encode_blob(AccessList(False, ["10.16.0.0/12"]))
    assert struct.unpack_from("<II", blob, 48) == (1, 0xF0)
    assert blob.endswith(words("fff00000 0a100000"))
    assert decode_blob(blob) == AccessList(False, ["10.16.0.0/12"])


def test_one_entry_per_mask_most_specific_first():
    blob = encode_blob(AccessList(False, ["10.0.0.0/8", "192.0.2.1", "198.51.100.0/24", "192.0.2.7"]))
    entries, addresses = struct.unpack_from("<II", blob, 32)
    assert (entries, addresses) == (3, 4)
    masks = [struct.unpack_from("<I", blob, 40 + 20 * i + 8)[0] for i in range(3)]
    assert masks == [4, 3, 1]


def test_salt_state_docstring_sample_is_rejected_with_the_offset():
    with pytest.raises(IpSecurityListError, match=r"grant-name list reference at offset 12 is 0x00000001"):
        decode_blob(dotted(SALT_STATE_DOCSTRING))


def _patched(blob, offset, value):
    data = bytearray(blob)
    struct.pack_into("<I", data, offset, value)
    return bytes(data)


MALFORMED = [
    ("too short", V1[:20], r"too short"),
    ("not whole DWORDs", V1 + b"\0", r"whole number of DWORDs"),
    ("reference flag missing", _patched(V1, 0, 0x18), r"deny-address list reference at offset 0 .* not a reference"),
    ("list past the end", _patched(V1, 4, 0x80000000 | 400), r"outside the .* reference area"),
    ("reference into header", _patched(V1, 4, 0x80000004), r"points into the header"),
    ("reference area too big", _patched(V1, 20, 4000), r"reference area size 4000"),
    ("not IPv4", _patched(V1, 40, 23), r"address family 23 is not IPv4"),
    ("count without mask", _patched(V1, 44, 0), r"no room for the mask"),
    ("impossible mask description", _patched(V1, 48, 5), r"mask description 5/0 is impossible"),
    ("mask disagrees", _patched(V1, 48, 3), r"does not match its description"),
    ("data past the end", _patched(v3(["10.0.0.1"]), 44, 9), r"run past the end"),
    ("address count disagrees", _patched(v3(["10.0.0.1"]), 36, 5), r"header counts 5 addresses, entries hold 1"),
    ("domain names", _patched(V1, 60, 1), r"domain-name entries"),
    ("trailing bytes", V1 + b"\0\0\0\0", r"4 bytes after offset 80 belong to no list"),
    ("non-contiguous mask", _patched(_patched(V1, 48, 0), 52, 0xA0)[:76] + bytes([0xA0, 0, 0, 0]), r"mask 160.0.0.0 is not contiguous"),
]


@pytest.mark.parametrize("name, blob, message", MALFORMED, ids=[item[0] for item in MALFORMED])
def test_malformed_blob_is_rejected_clearly(name, blob, message):
    with pytest.raises(IpSecurityListError, match=message):
        decode_blob(blob)


def test_both_lists_populated_is_rejected():
    deny = encode_blob(AccessList(True, ["192.0.2.1"]))
    # Give the (empty) grant list at 52 one entry pointing at the same data: never written by IIS Manager.
    data = bytearray(deny)
    struct.pack_into("<II", data, 52, 1, 0)
    with pytest.raises(IpSecurityListError):
        decode_blob(bytes(data))


# ---- round trips -----------------------------------------------------------------------------
networks = st.builds(
    lambda address, prefix: ipaddress.IPv4Network((address, prefix), strict=False),
    st.integers(min_value=0, max_value=2 ** 32 - 1),
    st.integers(min_value=0, max_value=32),
)
access_lists = st.builds(AccessList, st.booleans(), st.lists(networks, max_size=40))


@settings(max_examples=300, deadline=None)
@given(access_lists)
def test_blob_round_trip(access_list):
    blob = encode_blob(access_list)
    assert decode_blob(blob) == access_list
    assert encode_blob(decode_blob(blob)) == blob


@settings(max_examples=300, deadline=None)
@given(access_lists)
def test_string_round_trip(access_list):
    strings = encode_strings(access_list)
    assert decode_strings(strings["grant_by_default"], strings["ip_grant"], strings["ip_deny"]) == access_list


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=160))
def test_decoding_random_bytes_either_works_or_says_why(blob):
    try:
        decoded = decode_blob(blob)
    except IpSecurityListError as exc:
        assert str(exc)
    else:
        assert decode_blob(encode_blob(decoded)) == decoded


def test_thousand_addresses_round_trip():
    hosts = ["10.%d.%d.%d" % (i // 65536, (i // 256) % 256, i % 256) for i in range(1, 1001)]
    access_list = AccessList(False, hosts)
    blob = encode_blob(access_list)
    assert len(blob) == 80 + 4 * 1000
    assert decode_blob(blob) == access_list


# ---- string form -----------------------------------------------------------------------------
@pytest.mark.parametrize("text, network", [
    ("192.168.1.0, 255.255.255.0", "192.168.1.0/24"),
    ("127.0.0.1,255.255.255.255", "127.0.0.1/32"),
    ("10.0.0.7", "10.0.0.7/32"),
])
def test_parse_address_mask(text, network):
    assert parse_address_mask(text) == ipaddress.IPv4Network(network)


@pytest.mark.parametrize("text", ["192.168.1.0, 255.0.255.0", "host, 255.255.255.0", "1.2.3.4, ", 7])
def test_parse_address_mask_rejects(text):
    with pytest.raises(IpSecurityListError):
        parse_address_mask(text)


def test_format_address_mask_is_iis_form():
    assert format_address_mask("192.0.2.0/24") == "192.0.2.0, 255.255.255.0"


def test_decode_strings_reads_only_the_exception_list():
    model = decode_strings(True, ["10.0.0.1, 255.255.255.255"], ["192.0.2.9, 255.255.255.255"])
    assert model == AccessList(True, ["192.0.2.9"])
    assert decode_strings(False, ["10.0.0.1, 255.255.255.255"], []) == AccessList(False, ["10.0.0.1"])


@pytest.mark.parametrize("text, expected", [("10.0.0.5", "10.0.0.5/32"), ("10.0.0.0/24", "10.0.0.0/24"), ("10.0.0.0/255.255.255.0", "10.0.0.0/24")])
def test_parse_entry(text, expected):
    assert parse_entry(text) == ipaddress.IPv4Network(expected)


@pytest.mark.parametrize("text", ["10.0.0.5/24", "", "example.org", "2001:db8::1", None])
def test_parse_entry_rejects(text):
    with pytest.raises(IpSecurityListError):
        parse_entry(text)


def test_equality_ignores_order_and_duplicates():
    assert AccessList(False, ["10.0.0.2", "10.0.0.1", "10.0.0.1"]) == AccessList(False, ["10.0.0.1", "10.0.0.2"])
    assert AccessList(False, ["10.0.0.1"]) != AccessList(True, ["10.0.0.1"])
