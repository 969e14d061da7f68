# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of mailrelay.smtp.iis_smtp_domain: the domains of one IIS SMTP virtual server.

Every domain of the task is handled in one read and at most one apply,
whatever their number.
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _metabase, _metabase_domain
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._iis_smtp_action import IisSmtpAction
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._windows_resource import ResourceInputError


class ActionModule(IisSmtpAction):
    argument_spec = dict(
        server=dict(type="str", required=True),
        domains=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                name=dict(type="str", required=True),
                type=dict(type="str", default="remote", choices=["remote", "alias"]),
                state=dict(type="str", default="present", choices=["present", "absent"]),
                allow_relay=dict(type="bool", default=False),
                smart_host=dict(type="str"),
                tls=dict(type="bool", default=False),
                authentication=dict(type="str", default="anonymous", choices=["anonymous", "basic", "integrated"]),
                username=dict(type="str"),
                password=dict(type="str", no_log=True),
            ),
        ),
        exclusive=dict(type="bool", default=False),
        update_password=dict(type="str", default="on_change", choices=["always", "on_change"]),
        allow_cleartext_password=dict(type="bool", default=False),
        internet_facing=dict(type="bool", default=True),
        allow_open_relay=dict(type="bool", default=False),
    )

    def build_desired(self, params):
        specs = _metabase_domain.build_domain_specs(params)
        if params["internet_facing"] and not params["allow_open_relay"]:
            risks = _metabase_domain.domain_open_relay_risks(
                [dict(spec, name=name) for name, spec in specs.items() if spec["state"] == "present"])
            if risks:
                raise ResourceInputError(
                    "refusing an open relay on an Internet-facing virtual server: %s. List your own domains "
                    "instead; set internet_facing: false or allow_open_relay: true to accept it" % "; ".join(risks))
        return specs

    def read_parameters(self, params):
        return _metabase.read_parameters(domains_of=params["server"])

    def plan(self, params, desired, current):
        return self.to_plan(_metabase_domain.plan_domains(
            params["server"], desired, current,
            exclusive=params["exclusive"],
            update_password=params["update_password"],
            missing_server_ok=self._task.check_mode,
        ))

    def report(self, params, desired, current, plan):
        server = current.named(params["server"])
        return dict(self.plan_report(plan), domains=_metabase_domain.domain_views(server) if server is not None else [])
