# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of mailrelay.smtp.iis_smtp_server: one IIS SMTP virtual server.

validate -> one read -> plan (module_utils/_metabase.py) -> check mode? stop
-> one apply -> verify -> report; the sequence is WindowsResourceAction's,
the IIS SMTP parts IisSmtpAction's.
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _metabase, _metabase_server
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._iis_smtp_action import IisSmtpAction
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._windows_resource import ResourceInputError

_ACCESS_LIST = dict(
    type="dict",
    options=dict(
        grant_by_default=dict(type="bool", default=False),
        entries=dict(type="list", elements="str", default=[]),
    ),
)
_AUTH_CHOICES = ["anonymous", "basic", "integrated"]


class ActionModule(IisSmtpAction):
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent", "started", "stopped"]),
        bindings=dict(
            type="list",
            elements="dict",
            options=dict(
                address=dict(type="str", required=True),
                port=dict(type="int", default=25),
            ),
        ),
        allow_all_unassigned=dict(type="bool", default=False),
        default_domain=dict(type="str"),
        fqdn=dict(type="str"),
        authentication=dict(type="list", elements="str", choices=_AUTH_CHOICES),
        require_tls=dict(type="bool"),
        relay_for_authenticated=dict(type="bool"),
        relay_ip_list=_ACCESS_LIST,
        connection_ip_list=_ACCESS_LIST,
        smart_host=dict(type="str"),
        smart_host_type=dict(type="str", choices=["none", "dns_first", "always"]),
        outbound_port=dict(type="int"),
        outbound_tls=dict(type="bool"),
        outbound_authentication=dict(type="str", choices=_AUTH_CHOICES),
        outbound_username=dict(type="str"),
        outbound_password=dict(type="str", no_log=True),
        update_password=dict(type="str", default="on_change", choices=["always", "on_change"]),
        allow_cleartext_password=dict(type="bool", default=False),
        max_message_size=dict(type="int"),
        masquerade_domain=dict(type="str"),
        mail_root=dict(type="str"),
        tls_certificate_thumbprint=dict(type="str"),
        internet_facing=dict(type="bool", default=True),
        allow_open_relay=dict(type="bool", default=False),
    )

    def build_desired(self, params):
        return _metabase_server.build_server_spec(params)

    def read_parameters(self, params):
        return _metabase.read_parameters()

    def plan(self, params, desired, current):
        server_plan = _metabase_server.plan_server(desired, current)
        risks = _metabase_server.server_relay_refusal(desired, server_plan, current)
        if risks:
            raise ResourceInputError(
                "refusing to leave virtual server %r as an open relay on an Internet-facing host: %s. "
                "Restrict relay_ip_list (or drop anonymous authentication); if the server is not reachable "
                "from the Internet set internet_facing: false, or accept the risk with allow_open_relay: true"
                % (desired["name"], "; ".join(risks)))
        return self.to_plan(server_plan)

    def report(self, params, desired, current, plan):
        server = current.named(desired["name"])
        return dict(self.plan_report(plan), server=_metabase_server.server_report(server) if server is not None else None)
