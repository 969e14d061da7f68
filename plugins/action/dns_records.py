# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Derive the DNS records of a topology on the controller (documentation: plugins/modules/dns_records.py)."""

from __future__ import annotations

import ipaddress

from ansible.plugins.action import ActionBase

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dns_records
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._topology_action import normalize_or_fail

ARGUMENT_SPEC = {
    "description": {"type": "dict", "required": True},
    "dkim_public_keys": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "key_selector": {"type": "str", "required": True},
            "algorithm": {"type": "str", "required": True, "choices": list(_dns_records.DKIM_ALGORITHMS)},
            "public_key": {"type": "str", "required": True},
            "active": {"type": "bool", "default": False},
        },
    },
    "published_addresses": {"type": "dict", "default": {}},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        topology = normalize_or_fail(result, params["description"])
        if topology is None:
            return result
        for name, addresses in params["published_addresses"].items():
            if not isinstance(addresses, list) or not all(_is_ip(address) for address in addresses):
                result.update(failed=True, changed=False, msg="published_addresses.%s: must be a list of IP addresses" % name)
                return result
        derived = _dns_records.derive(topology, params["dkim_public_keys"], params["published_addresses"])
        header = [
            "DNS records of the mail domains %s, derived by mailrelay.smtp.dns_records." % ", ".join(topology["domains"]),
            "Owner names are absolute: paste each line into the zone it belongs to.",
        ] + ["NOTE: %s" % note for note in derived["notes"]]
        result.update(
            changed=False,
            records=derived["records"],
            zone=_dns_records.zone_text(derived["records"], header),
            notes=derived["notes"],
            mta_sts_policies=derived["mta_sts_policies"],
            dkim_keys=_dns_records.dkim_keys_needed(topology),
        )
        return result


def _is_ip(text):
    try:
        ipaddress.ip_address(str(text))
    except ValueError:
        return False
    return True
