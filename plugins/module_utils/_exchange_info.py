# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only view of an Exchange server's relay configuration, in one read round trip.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex
from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_domains as domains
from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_receive as receive
from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_send as send
from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_transport as transport

SUBSETS = ("all", "receive_connectors", "permissions", "send_connectors", "accepted_domains", "transport_dns")
_NEED_SERVER = ("receive_connectors", "permissions", "transport_dns")


def subsets(params):
    chosen = set(params.get("gather_subset") or ["all"])
    if "all" in chosen:
        chosen = set(SUBSETS) - {"all"}
    if "permissions" in chosen:
        chosen.add("receive_connectors")
    needs = sorted(chosen & set(_NEED_SERVER))
    if needs and not params.get("server"):
        raise ex.ExchangeInputError("server: required to gather %s" % ", ".join(needs))
    if params.get("server"):
        ex.check_server_name(params["server"])
    return chosen


def read_scope(params):
    chosen = subsets(params)
    return {
        "Server": params.get("server") or "",
        "AllReceiveConnectors": "receive_connectors" in chosen,
        "IncludePermissions": "permissions" in chosen,
        "AllSendConnectors": "send_connectors" in chosen,
        "TransportService": "transport_dns" in chosen,
        "AcceptedDomains": "accepted_domains" in chosen,
    }


def report(params, chosen, document):
    """Return values for the ``chosen`` subsets (what ``subsets(params)`` returned) of the read ``document``."""
    result = {}
    if "receive_connectors" in chosen:
        connectors = []
        for raw in document.get("receive_connectors") or []:
            connector = receive.decode_connector(raw)
            item = receive.report(connector)
            entry = dict(item["connector"])
            entry["default_connector"] = ex.is_default_connector(connector["name"] or "", params["server"])
            if "permissions" in chosen:
                entry["permissions"] = item["permissions"]
                entry["anonymous_relay"] = item["anonymous_relay"]
            connectors.append(entry)
        result["receive_connectors"] = connectors
    if "send_connectors" in chosen:
        result["send_connectors"] = [send.view(send.decode_connector(raw)) for raw in document.get("send_connectors") or []]
    if "accepted_domains" in chosen:
        result.update(domains.report(domains.decode(document)))
    if "transport_dns" in chosen:
        result.update(transport.report(transport.decode(document, params["server"])))
    return result
