# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of mailrelay.smtp.iis_smtp_server: one IIS SMTP virtual server.

validate -> one read -> plan (module_utils/_metabase.py) -> check mode? stop
-> one apply -> verify -> report; the sequence is WindowsResourceAction's.
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _metabase
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._windows_resource import (
    Plan,
    ResourceInputError,
    WindowsResourceAction,
)
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._windows_rpc import PayloadError

_ACCESS_LIST = dict(
    type="dict",
    options=dict(
        grant_by_default=dict(type="bool", default=False),
        entries=dict(type="list", elements="str", default=[]),
    ),
)
_AUTH_CHOICES = ["anonymous", "basic", "integrated"]


class ActionModule(WindowsResourceAction):
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
    read_payload = "iis_smtp_read"
    apply_payload = "iis_smtp_apply"

    def build_desired(self, params):
        try:
            return _metabase.build_server_spec(params)
        except _metabase.MetabaseError as exc:
            raise ResourceInputError(str(exc))

    def read_parameters(self, params):
        return _metabase.read_parameters()

    def decode(self, params, raw):
        try:
            return _metabase.decode_document(raw)
        except _metabase.MetabaseError as exc:
            raise PayloadError(self.read_payload, str(exc))

    def plan(self, params, desired, current):
        try:
            server_plan = _metabase.plan_server(desired, current)
        except _metabase.MetabaseError as exc:
            raise ResourceInputError(str(exc))
        risks = _metabase.server_relay_refusal(desired, server_plan, current)
        if risks:
            raise ResourceInputError(
                "refusing to leave virtual server %r as an open relay on an Internet-facing host: %s. "
                "Restrict relay_ip_list (or drop anonymous authentication); if the server is not reachable "
                "from the Internet set internet_facing: false, or accept the risk with allow_open_relay: true"
                % (desired["name"], "; ".join(risks)))
        if getattr(self, "_server_plan", None) is None:
            # The first plan is what the task does; a second one only verifies the state after.
            self._server_plan = server_plan
        return Plan(server_plan.operations, server_plan.before, server_plan.after,
                    _metabase.secrets_parameter(server_plan.secrets))

    def report(self, params, desired, current):
        server = current.named(desired["name"])
        result = {"server": None}
        if server is not None:
            result["server"] = dict(_metabase.server_view(server.props, detail=True), index=server.index)
            result["server"]["open_relay_risks"] = _metabase.open_relay_risks(server.props)
        server_plan = getattr(self, "_server_plan", None)
        if server_plan is not None:
            result["operations"] = _metabase.operation_summary(server_plan.operations)
            if server_plan.warnings:
                result["warnings"] = list(server_plan.warnings)
        return result

    def translate_error(self, error):
        return _metabase.error_message(error.payload, error.code, error.message)
