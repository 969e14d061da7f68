# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check the derived DNS records against DNS from the controller (documentation: plugins/modules/dns_check.py)."""

from __future__ import annotations

import ipaddress

from ansible.plugins.action import ActionBase

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dns_check

try:
    import dns.resolver  # noqa: F401  pylint: disable=unused-import

    HAS_DNSPYTHON = True
except ImportError:
    HAS_DNSPYTHON = False

RECORD_TYPES = ["A", "AAAA", "MX", "TXT", "PTR"]
ARGUMENT_SPEC = {
    "records": {"type": "list", "elements": "dict", "required": True},
    "nameservers": {"type": "list", "elements": "str", "default": []},
    "port": {"type": "int", "default": 53},
    "timeout": {"type": "float", "default": 5.0},
    "types": {"type": "list", "elements": "str", "default": RECORD_TYPES, "choices": RECORD_TYPES},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        problem = _problem(params)
        if problem:
            result.update(failed=True, changed=False, msg=problem)
            return result
        if not HAS_DNSPYTHON:
            result.update(failed=True, changed=False, msg="dns_check needs the Python library dnspython on the controller (pip install dnspython)")
            return result
        records = [record for record in params["records"] if record["type"] in params["types"]]
        lookup = _dns_check.dnspython_lookup(params["nameservers"], params["port"], params["timeout"])
        rows = _dns_check.compare(records, lookup)
        counts = {status: sum(1 for row in rows if row["status"] == status) for status in _dns_check.STATUSES}
        bad = [row for row in rows if row["status"] != "ok"]
        text = _dns_check.table(rows)
        result.update(changed=False, passed=not bad, rows=rows, counts=counts, table=text.splitlines())
        if bad:
            result.update(
                failed=True,
                msg="%d of %d DNS record sets are not as the topology needs:\n%s" % (len(bad), len(rows), _dns_check.table(bad)),
            )
        else:
            result["msg"] = "all %d DNS record sets are as the topology needs" % len(rows)
        return result


def _problem(params):
    for index, server in enumerate(params["nameservers"]):
        try:
            ipaddress.ip_address(server)
        except ValueError:
            return "nameservers[%d]: %r is not an IP address" % (index, server)
    if not 0 < params["port"] < 65536:
        return "port: %d is not a UDP/TCP port" % params["port"]
    if params["timeout"] <= 0:
        return "timeout: must be more than 0 seconds"
    for index, record in enumerate(params["records"]):
        for key in ("name", "type", "value"):
            if not isinstance(record.get(key), str) or not record.get(key):
                return "records[%d].%s: required (a record as mailrelay.smtp.dns_records returns it)" % (index, key)
    return None
