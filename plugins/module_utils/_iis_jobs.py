# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the submission and inbound relay jobs mean on the Windows SMTP Server (IIS 6 metabase).

Takes a job's settings (the job role's variables without their prefix, as
``vars/main.yml`` of the job role collects them) and the IIS platform settings
(the ``iis_smtp_*`` variables without their prefix), and returns what the
``iis.yml`` task file of the job role passes on unchanged:

``{"mail_root": str, "server": {iis_smtp_server options},
"domains": {iis_smtp_domain options} or None, "notes": [str]}``

``notes`` says where IIS cannot do what the job asks (one smart host, no
recipient check, no own user list). Keeping this here, rather than in Jinja,
lets unit tests read every setting a job gets, as ``_postfix_jobs`` does for
Postfix.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import re

# "Only the list below", and nobody on it: relaying needs authentication (submission) or one of
# the own remote domains (inbound relay).
RELAY_NOBODY = {"grant_by_default": False, "entries": []}


class IisJobError(ValueError):
    """A job IIS cannot serve; the message names the setting."""


def mail_root(platform, instance):
    """The job server's own Queue/Pickup/Drop/Badmail folder, or "" for the service-wide ones."""
    base = (platform.get("mail_root_base") or "").rstrip("\\")
    if not base:
        return ""
    return "%s\\%s" % (base, re.sub(r"[^A-Za-z0-9_.-]+", "-", instance))


def _first_hop(settings, job):
    hops = settings.get("next_hops") or []
    if not hops:
        raise IisJobError("%s_next_hops: empty; IIS needs the hub as its smart host" % job)
    hop = hops[0]
    return hop["address"], int(hop.get("port") or 25)


def _optional(value):
    """Options an empty value leaves unmanaged (Ansible's ``default(omit, true)``) are left out."""
    return value if value not in (None, "", {}, []) else None


def _server(settings, platform, root, **options):
    server = {
        "name": settings["instance"],
        "state": "started",
        "bindings": [{"address": settings["address"], "port": int(settings["port"])}],
        "fqdn": settings["hostname"],
        "max_message_size": _optional(settings.get("max_message_size")),
        "mail_root": _optional(root),
        "internet_facing": bool(platform.get("internet_facing", True)),
    }
    server.update(options)
    if server["max_message_size"] is not None:
        server["max_message_size"] = int(server["max_message_size"])
    # Options left out are not managed by iis_smtp_server (the role passes them with default(omit)).
    return {key: value for key, value in server.items() if value is not None}


def submission(settings, platform):
    """Only after SMTP AUTH over TLS, relay only for authenticated users, everything to the hub."""
    address, port = _first_hop(settings, "submission")
    notes = []
    ignored = [hop["address"] for hop in settings["next_hops"][1:]]
    if ignored:
        notes.append("IIS takes one smart host: %s is used, %s ignored." % (address, ", ".join(ignored)))
    if settings.get("users"):
        notes.append("Users authenticate with Windows or Active Directory accounts; submission_users is not applied on IIS "
                     "(create the accounts, and restrict senders on the hub).")
    root = mail_root(platform, settings["instance"])
    server = _server(
        settings, platform, root,
        default_domain=settings["placeholder_domain"],
        authentication=list(platform.get("submission_authentication") or ["basic", "integrated"]),
        require_tls=True,
        tls_certificate_thumbprint=_optional(platform.get("submission_certificate_thumbprint")),
        relay_for_authenticated=True,
        # "Only the list below", and nobody on it: relaying needs authentication.
        relay_ip_list=dict(RELAY_NOBODY),
        connection_ip_list=_optional(platform.get("submission_connection_ip_list")),
        smart_host=address,
        smart_host_type="always",
        outbound_port=port,
    )
    return {"mail_root": root, "server": server, "domains": None, "notes": notes}


def inbound_relay(settings, platform):
    """Anonymous mail for the own domains only (one remote domain each, routed to the hub), no relay."""
    address, port = _first_hop(settings, "inbound_relay")
    if not settings.get("domains"):
        raise IisJobError("inbound_relay_domains: empty; the inbound relay accepts mail only for the own domains")
    notes = []
    if settings.get("recipients"):
        notes.append("IIS cannot check recipients: inbound_relay_recipients is not applied, every address of the own "
                     "domains is accepted and the hub refuses unknown ones (backscatter risk).")
    if len(settings["next_hops"]) > 1:
        notes.append("IIS routes each domain to one smart host: %s is used." % address)
    root = mail_root(platform, settings["instance"])
    server = _server(
        settings, platform, root,
        default_domain=platform.get("inbound_relay_default_domain") or "inbound-relay.invalid",
        authentication=["anonymous"],
        require_tls=False,
        tls_certificate_thumbprint=_optional(platform.get("inbound_relay_certificate_thumbprint")),
        relay_for_authenticated=False,
        # "Only the list below", and nobody on it: only the remote domains below accept mail.
        relay_ip_list=dict(RELAY_NOBODY),
        # The hub as the server-wide smart host too: relaying is refused, so what else leaves this server is
        # its own non-delivery notices, and they go through the hub, never straight to the Internet
        # (issue 13, item 4). Inferred: IIS routes a notice like any mail for the sender's domain.
        smart_host=address,
        smart_host_type="always",
        outbound_port=port,
    )
    domains = {
        "server": settings["instance"],
        "exclusive": bool(platform.get("inbound_relay_exclusive_domains", True)),
        "internet_facing": bool(platform.get("internet_facing", True)),
        "domains": [{"name": domain, "type": "remote", "allow_relay": True, "smart_host": address}
                    for domain in settings["domains"]],
    }
    return {"mail_root": root, "server": server, "domains": domains, "notes": notes}


BUILDERS = {"submission": submission, "inbound_relay": inbound_relay}


def resources_for(job, settings, platform):
    """The IIS resources of ``job``; :class:`IisJobError` (or KeyError for a missing setting) on bad input."""
    return BUILDERS[job](settings, platform or {})
