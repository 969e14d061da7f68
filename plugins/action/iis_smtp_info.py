# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of mailrelay.smtp.iis_smtp_info: every IIS SMTP virtual server and domain, decoded.

One read call; never changes anything.
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _metabase, _metabase_domain, _metabase_server
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._iis_smtp_action import IisSmtpAction


class ActionModule(IisSmtpAction):
    argument_spec = dict(
        name=dict(type="str"),
        include_domains=dict(type="bool", default=True),
    )
    supports_apply = False

    def build_desired(self, params):
        return params

    def read_parameters(self, params):
        return _metabase.read_parameters(domains_of="*" if params["include_domains"] else "")

    def report(self, params, desired, current, plan):
        servers = []
        for server in current.servers:
            if params["name"] and server.name.lower() != params["name"].lower():
                continue
            view = _metabase_server.server_report(server)
            if server.domains is not None:
                view["domains"] = _metabase_domain.domain_views(server)
                view["open_relay_risks"] += _metabase_domain.domain_open_relay_risks(view["domains"])
            servers.append(view)
        return {"servers": servers, "service_status": current.service_status}
