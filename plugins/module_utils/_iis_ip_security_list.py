# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IIS 6 metabase IP security lists (IP access lists, not IPsec): the IPSECLIST blob and the IPGrant/IPDeny strings.

The IIS SMTP service keeps two IP access lists per virtual server:

- ``RelayIpList`` ("Relay Restrictions"): who may relay without authenticating.
  WMI (``IIsSmtpServerSetting.RelayIpList``) hands it over as the raw IPSECLIST
  blob (``uint8[]``); this module decodes and encodes that blob.
- ``IPSecurity`` ("Connection Control"): who may connect at all. ADSI hands it
  over as an ``IIsIPSecurity`` object with ``GrantByDefault`` and the string
  lists ``IPGrant``/``IPDeny`` ("192.168.1.0, 255.255.255.0"); this module
  converts that string form too.

Both become the same model, :class:`AccessList`: ``grant_by_default`` plus the
IPv4 networks that are the exception ("only the list below" is
``grant_by_default=False``; "all except the list below" is ``True``).

Blob layout (clean-room, from public samples; see the facts file
``windows-facts.md``; every offset is a little-endian DWORD, a reference is
``0x80000000 | offset``)::

    0  ref deny-address list     4  ref grant-address list
    8  ref deny-name list       12  ref grant-name list
    16 1 (meaning unknown)      20  size of the reference area
    address list: cEntries, cAddressesTotal, then cEntries entries of 20 bytes:
        family (2 = IPv4), count (mask + addresses), full mask bytes,
        last partial mask byte, ref -> [mask][address]... (network byte order)
    name list: cEntries, cNames (always 0, 0 in the samples)
    data area: the mask/address blocks

Confidence of each rule is noted where it is used; golden vectors from public
samples are in tests/unit/plugins/module_utils/test__iis_ip_security_list.py.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import ipaddress
import struct

REFERENCE_FLAG = 0x80000000
HEADER_SIZE = 24
LIST_HEADER_SIZE = 8
ENTRY_SIZE = 20
AF_INET = 2
# DWORD at offset 16 is 1 in every public sample; its meaning is unknown (low confidence).
# Every inference of this codec is also listed, with its confidence, in _metabase.FACTS ("IPSECLIST.*").
HEADER_FLAGS = 1


class IpSecurityListError(ValueError):
    """A blob or string that is not a well-formed IP access list; the message says where."""


class AccessList:
    """An IP access list: the default action plus the networks that are the exception.

    ``entries`` is stored sorted and without duplicates, so two lists that allow
    the same hosts compare equal whatever order they were written in.
    """

    __slots__ = ("grant_by_default", "entries")

    def __init__(self, grant_by_default, entries=()):
        self.grant_by_default = bool(grant_by_default)
        networks = {_as_network(entry) for entry in entries}
        self.entries = tuple(sorted(networks, key=lambda net: (int(net.network_address), net.prefixlen)))

    def __eq__(self, other):
        if not isinstance(other, AccessList):
            return NotImplemented
        return self.grant_by_default == other.grant_by_default and self.entries == other.entries

    def __hash__(self):
        return hash((self.grant_by_default, self.entries))

    def __repr__(self):
        return "AccessList(grant_by_default=%r, entries=%r)" % (self.grant_by_default, [str(e) for e in self.entries])

    def describe(self):
        """Readable form for diffs and return values."""
        return {
            "grant_by_default": self.grant_by_default,
            "entries": [str(entry) for entry in self.entries],
        }


def _as_network(entry):
    if isinstance(entry, ipaddress.IPv4Network):
        return entry
    return ipaddress.IPv4Network(entry)


# ---- user input ----------------------------------------------------------------------------
def parse_entry(text):
    """Parse one user-written entry: ``10.0.0.5``, ``10.0.0.0/24`` or ``10.0.0.0/255.255.255.0``.

    Host bits outside the mask are an error (``10.0.0.5/24`` is ambiguous).
    """
    if not isinstance(text, str) or not text.strip():
        raise IpSecurityListError("%r is not an IPv4 address or network" % (text,))
    try:
        network = ipaddress.IPv4Network(text.strip(), strict=True)
    except ValueError as exc:
        raise IpSecurityListError("%r is not an IPv4 address or network: %s" % (text, exc))
    return network


# ---- IPGrant / IPDeny string form (ADSI IIsIPSecurity) ---------------------------------------
def parse_address_mask(text):
    """Parse one IPGrant/IPDeny string: ``"192.168.1.0, 255.255.255.0"``.

    Microsoft's samples write ``", "`` between address and mask, public scripts
    write ``","``; both are read. A bare address is one host.
    """
    if not isinstance(text, str):
        raise IpSecurityListError("IP list entry %r is not a string" % (text,))
    parts = [part.strip() for part in text.split(",")]
    if len(parts) == 1:
        parts.append("255.255.255.255")
    if len(parts) != 2 or not all(parts):
        raise IpSecurityListError("IP list entry %r is not 'address, mask'" % text)
    try:
        mask = ipaddress.IPv4Address(parts[1])
        prefix = _prefix_from_mask(int(mask))
        return ipaddress.IPv4Network("%s/%d" % (parts[0], prefix), strict=False)
    except (ValueError, IpSecurityListError) as exc:
        raise IpSecurityListError("IP list entry %r: %s" % (text, exc))


def format_address_mask(network):
    """The string IIS shows for ``network``: ``"192.168.1.0, 255.255.255.0"``."""
    network = _as_network(network)
    return "%s, %s" % (network.network_address, network.netmask)


def decode_strings(grant_by_default, ip_grant=None, ip_deny=None):
    """Model of an IIsIPSecurity object (``GrantByDefault``, ``IPGrant``, ``IPDeny``).

    IIS consults only the list that is the exception to the default: with
    ``GrantByDefault`` the deny list, otherwise the grant list.
    """
    relevant = ip_deny if grant_by_default else ip_grant
    return AccessList(bool(grant_by_default), [parse_address_mask(text) for text in (relevant or [])])


def encode_strings(access_list):
    """``{"grant_by_default", "ip_grant", "ip_deny"}`` for an IIsIPSecurity object."""
    strings = [format_address_mask(entry) for entry in access_list.entries]
    return {
        "grant_by_default": access_list.grant_by_default,
        "ip_grant": [] if access_list.grant_by_default else strings,
        "ip_deny": strings if access_list.grant_by_default else [],
    }


# ---- IPSECLIST blob -------------------------------------------------------------------------
def _prefix_from_mask(mask):
    inverted = (~mask) & 0xFFFFFFFF
    if inverted & (inverted + 1):
        raise IpSecurityListError("mask %s is not contiguous" % ipaddress.IPv4Address(mask))
    return 32 - inverted.bit_length()


def _groups(entries):
    """Entries grouped by mask, most specific first, addresses ascending.

    One list entry per mask matches the public samples (N hosts share one /32
    entry). Ordering across masks is an inference (low confidence); decoding
    does not depend on it.
    """
    by_prefix = {}
    for network in entries:
        by_prefix.setdefault(network.prefixlen, []).append(network)
    return [(prefix, sorted(by_prefix[prefix], key=lambda n: int(n.network_address))) for prefix in sorted(by_prefix, reverse=True)]


def encode_blob(access_list):
    """The IPSECLIST blob for ``access_list``.

    - grant by default and no exception: empty value (high confidence, "V6");
    - deny by default: the deny list is empty and the grant list holds one entry
      per mask; with no address at all, one /32 entry with no address ("V1",
      medium-high confidence);
    - grant by default with exceptions: the deny list holds them and the grant
      list is empty ("V5", prefix high confidence, rest inferred).
    """
    if access_list.grant_by_default and not access_list.entries:
        return b""
    groups = _groups(access_list.entries)
    if access_list.grant_by_default:
        deny_groups, grant_groups = groups, []
    else:
        deny_groups, grant_groups = [], groups or [(32, [])]

    deny_offset = HEADER_SIZE
    grant_offset = deny_offset + LIST_HEADER_SIZE + ENTRY_SIZE * len(deny_groups)
    deny_name_offset = grant_offset + LIST_HEADER_SIZE + ENTRY_SIZE * len(grant_groups)
    grant_name_offset = deny_name_offset + LIST_HEADER_SIZE
    reference_size = grant_name_offset + LIST_HEADER_SIZE

    data = bytearray()
    lists = []
    for group_list in (deny_groups, grant_groups):
        header = struct.pack("<II", len(group_list), sum(len(addresses) for dummy, addresses in group_list))
        body = bytearray(header)
        for prefix, networks in group_list:
            mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
            full_bytes, partial_bits = divmod(prefix, 8)
            last_byte = ((0xFF << (8 - partial_bits)) & 0xFF) if partial_bits else 0
            reference = REFERENCE_FLAG | (reference_size + len(data))
            body += struct.pack("<IIIII", AF_INET, len(networks) + 1, full_bytes, last_byte, reference)
            data += struct.pack(">I", mask)
            for network in networks:
                data += network.network_address.packed
        lists.append(bytes(body))

    header = struct.pack(
        "<IIIIII",
        REFERENCE_FLAG | deny_offset,
        REFERENCE_FLAG | grant_offset,
        REFERENCE_FLAG | deny_name_offset,
        REFERENCE_FLAG | grant_name_offset,
        HEADER_FLAGS,
        reference_size,
    )
    empty_name_lists = struct.pack("<IIII", 0, 0, 0, 0)
    return header + lists[0] + lists[1] + empty_name_lists + bytes(data)


class _Reader:
    def __init__(self, blob):
        self.blob = blob

    def dword(self, offset, what):
        if offset < 0 or offset + 4 > len(self.blob):
            raise IpSecurityListError("%s at offset %d is past the end of the %d-byte blob" % (what, offset, len(self.blob)))
        return struct.unpack_from("<I", self.blob, offset)[0]

    def reference(self, offset, what):
        value = self.dword(offset, what)
        if not value & REFERENCE_FLAG:
            raise IpSecurityListError("%s at offset %d is 0x%08x, not a reference (high bit clear)" % (what, offset, value))
        return value & ~REFERENCE_FLAG


def _read_address_list(reader, offset, reference_size, what, used):
    if offset + LIST_HEADER_SIZE > reference_size:
        raise IpSecurityListError("%s header at offset %d lies outside the %d-byte reference area" % (what, offset, reference_size))
    count = reader.dword(offset, what + " entry count")
    total = reader.dword(offset + 4, what + " address count")
    if offset + LIST_HEADER_SIZE + count * ENTRY_SIZE > reference_size:
        raise IpSecurityListError("%s: %d entries do not fit in the reference area" % (what, count))
    networks = []
    for index in range(count):
        entry = offset + LIST_HEADER_SIZE + index * ENTRY_SIZE
        where = "%s entry %d" % (what, index)
        family = reader.dword(entry, where + " family")
        if family != AF_INET:
            raise IpSecurityListError("%s: address family %d is not IPv4 (2)" % (where, family))
        items = reader.dword(entry + 4, where + " count")
        full_bytes = reader.dword(entry + 8, where + " full mask bytes")
        last_byte = reader.dword(entry + 12, where + " partial mask byte")
        data = reader.reference(entry + 16, where + " data reference")
        if items < 1:
            raise IpSecurityListError("%s: count %d has no room for the mask" % (where, items))
        if full_bytes > 4 or last_byte > 0xFF or (full_bytes == 4 and last_byte):
            raise IpSecurityListError("%s: mask description %d/%d is impossible" % (where, full_bytes, last_byte))
        if data < reference_size:
            raise IpSecurityListError("%s: data reference %d points into the reference area" % (where, data))
        end = data + 4 * items
        if end > len(reader.blob):
            raise IpSecurityListError("%s: %d items at offset %d run past the end of the %d-byte blob" % (where, items, data, len(reader.blob)))
        mask = struct.unpack_from(">I", reader.blob, data)[0]
        expected = bytes([0xFF] * full_bytes + ([last_byte] if full_bytes < 4 else []))
        expected = (expected + b"\0\0\0\0")[:4]
        if struct.pack(">I", mask) != expected:
            raise IpSecurityListError("%s: mask %s does not match its description (%d full bytes, last byte 0x%02x)" % (
                where, ipaddress.IPv4Address(mask), full_bytes, last_byte))
        prefix = _prefix_from_mask(mask)
        for position in range(data + 4, end, 4):
            address = ipaddress.IPv4Address(reader.blob[position:position + 4])
            networks.append(ipaddress.IPv4Network("%s/%d" % (address, prefix), strict=False))
        used.append((data, end))
    if total != len(networks):
        raise IpSecurityListError("%s: header counts %d addresses, entries hold %d" % (what, total, len(networks)))
    return networks


def _check_name_list(reader, offset, reference_size, what):
    if offset + LIST_HEADER_SIZE > reference_size:
        raise IpSecurityListError("%s header at offset %d lies outside the %d-byte reference area" % (what, offset, reference_size))
    if reader.dword(offset, what + " entry count") or reader.dword(offset + 4, what + " name count"):
        raise IpSecurityListError("%s holds domain-name entries; this collection manages IP addresses and networks only" % what)


def decode_blob(blob):
    """Model of an IPSECLIST blob; :class:`IpSecurityListError` says what is wrong with a bad one.

    ``grant_by_default`` is read from which list holds entries: a grant list
    with entries means "only the list below" (the public samples; medium-high
    confidence), an empty grant list means "all except the list below".
    """
    blob = bytes(blob)
    if not blob:
        return AccessList(True)
    if len(blob) < HEADER_SIZE + 4 * LIST_HEADER_SIZE:
        raise IpSecurityListError("a %d-byte value is too short for an IP list (at least %d bytes)" % (len(blob), HEADER_SIZE + 4 * LIST_HEADER_SIZE))
    if len(blob) % 4:
        raise IpSecurityListError("a %d-byte value is not a whole number of DWORDs" % len(blob))
    reader = _Reader(blob)
    offsets = [
        reader.reference(0, "deny-address list reference"),
        reader.reference(4, "grant-address list reference"),
        reader.reference(8, "deny-name list reference"),
        reader.reference(12, "grant-name list reference"),
    ]
    reference_size = reader.dword(20, "reference area size")
    if not HEADER_SIZE + 4 * LIST_HEADER_SIZE <= reference_size <= len(blob):
        raise IpSecurityListError("reference area size %d does not fit a %d-byte blob" % (reference_size, len(blob)))
    for name, offset in zip(("deny-address", "grant-address", "deny-name", "grant-name"), offsets):
        if offset < HEADER_SIZE:
            raise IpSecurityListError("%s list reference %d points into the header" % (name, offset))
    used = []
    deny = _read_address_list(reader, offsets[0], reference_size, "deny-address list", used)
    grant = _read_address_list(reader, offsets[1], reference_size, "grant-address list", used)
    _check_name_list(reader, offsets[2], reference_size, "deny-name list")
    _check_name_list(reader, offsets[3], reference_size, "grant-name list")
    covered = reference_size
    for start, end in sorted(used):
        if start < covered:
            raise IpSecurityListError("address data at offset %d overlaps other data" % start)
        covered = end
    if covered != len(blob):
        raise IpSecurityListError("%d bytes after offset %d belong to no list" % (len(blob) - covered, covered))
    grant_count = reader.dword(offsets[1], "grant-address list entry count")
    if grant_count and deny:
        raise IpSecurityListError("both the grant and the deny list hold addresses; IIS Manager never writes that")
    if grant_count:
        return AccessList(False, grant)
    return AccessList(True, deny)
