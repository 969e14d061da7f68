# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the hub job means on Exchange.

Takes the hub's settings (the hub role's variables without their prefix, as
``roles/hub/vars/main.yml`` collects them) and the Exchange platform settings
(the ``exchange_*`` variables without their prefix) and returns the options of
each Exchange module task of ``roles/hub/tasks/exchange.yml``, which passes them
on unchanged:

``{"accepted_domains": {...}, "relay_connector": {...}, "inbound_connector": {...},
"transport_dns": {...} or None, "send_connector": {...}}``

- accepted domains: every own domain, authoritative;
- a dedicated receive connector where only the submission servers may relay
  (anonymous relay right by SID S-1-5-7, stray rights removed), absent when
  there are none;
- one for the inbound relays (an address in both lists is left out here: it
  relays anyway, and two connectors with the same remote address would be
  ambiguous). Their mail for the own domains needs no relay right, but their own
  non-delivery notices (null sender, to the Internet senders of mail the hub
  refused) must leave through the hub (issue 13, item 4), so this connector gets
  the anonymous relay right too, unless ``hub_inbound_relay_notices`` is false.
  Exchange grants relaying per session (the connector's remote addresses and
  the session's principal), never per envelope sender: it cannot limit the
  relays to the null sender as a Postfix hub does. What narrows it is the
  connector itself: only the inbound relays' own addresses, on the hub's one
  binding, with the rights of AnonymousUsers plus relay, stray rights removed
  (docs/exchange.md, "The inbound relays' own notices");
- the Transport service's external DNS servers (none listed: the adapter's);
- a send connector by DNS or through the upstream smart host.

Session options are not here: ``module_defaults`` of the action group
``mailrelay.smtp.exchange`` sets them once. Keeping this in Python, rather than
in Jinja, lets unit tests read every setting the hub gets.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

# The topology's smart host TLS levels as the send connector's ``tls`` option.
TLS = {"none": "none", "may": "opportunistic", "encrypt": "required"}


class ExchangeJobError(ValueError):
    """A hub Exchange cannot serve; the message names the setting."""


def _binding(address, port):
    """``ADDRESS:PORT``, IPv6 in brackets, as receive connector bindings are written."""
    return "%s:%d" % ("[%s]" % address if ":" in address else address, int(port))


def _addresses(entries):
    return [entry["address"] for entry in entries or []]


def _receive_connector(settings, platform, name, clients, anonymous_relay):
    connector = {
        "server": platform["server"],
        "name": name,
        "state": "present" if clients else "absent",
        "transport_role": platform.get("hub_transport_role") or "FrontendTransport",
        "bindings": [_binding(settings["address"], settings["port"])],
        "remote_ip_ranges": clients,
        "permission_groups": ["AnonymousUsers"],
        "auth_mechanisms": list(platform.get("hub_auth_mechanisms") or ["Tls"]),
        "anonymous_relay": anonymous_relay,
        "exclusive": True,
        "fqdn": settings["hostname"],
    }
    if settings.get("max_message_size"):
        connector["max_message_size"] = settings["max_message_size"]
    return connector


def _send_connector(settings, platform):
    method = settings.get("outbound_method") or "dns"
    if method not in ("dns", "smarthost"):
        raise ExchangeJobError("hub_outbound_method: %r is not dns or smarthost" % method)
    connector = {
        "name": platform.get("hub_send_connector") or "mailrelay outbound",
        "address_spaces": list(platform.get("hub_send_address_spaces") or ["*"]),
        "routing": method,
        "tls": "opportunistic",
        "smarthost_authentication": "none",
        "update_password": platform.get("hub_update_password") or "on_create",
        "use_external_dns": method == "dns" and bool(settings.get("dns_servers")),
        "source_transport_servers": [platform["server"]],
        "fqdn": settings["hostname"],
    }
    if method == "smarthost":
        smarthost = settings.get("smarthost") or {}
        if not smarthost.get("host"):
            raise ExchangeJobError("hub_smarthost.host: required with hub_outbound_method smarthost")
        tls = smarthost.get("tls") or "may"
        if tls not in TLS:
            raise ExchangeJobError("hub_smarthost.tls: %r is not one of %s" % (tls, ", ".join(TLS)))
        connector.update(smart_hosts=[smarthost["host"]], port=int(smarthost.get("port") or 25), tls=TLS[tls])
        if smarthost.get("username"):
            connector.update(smarthost_authentication="basic", username=smarthost["username"])
            if smarthost.get("password"):
                connector["password"] = smarthost["password"]
    if settings.get("max_message_size"):
        connector["max_message_size"] = settings["max_message_size"]
    return connector


def hub(settings, platform):
    """The Exchange module options of the hub job."""
    if not platform.get("server"):
        raise ExchangeJobError("exchange_server: the Exchange server that hosts the hub's connectors is required")
    relay_clients = _addresses(settings.get("relay_clients"))
    inbound_relays = [address for address in _addresses(settings.get("inbound_relays")) if address not in relay_clients]
    accepted = {"domains": [{"domain": domain} for domain in settings.get("domains") or []]}
    if platform.get("hub_default_domain"):
        accepted["default_domain"] = platform["hub_default_domain"]
    relay = _receive_connector(settings, platform, settings["instance"], relay_clients, True)
    relay["allow_broad_relay"] = bool(platform.get("hub_allow_broad_relay"))
    notices = bool(platform.get("hub_inbound_relay_notices", True))
    inbound = _receive_connector(settings, platform, platform.get("hub_inbound_connector") or "mailrelay inbound", inbound_relays, notices)
    inbound["allow_broad_relay"] = bool(platform.get("hub_allow_broad_relay")) if notices else False
    transport = None
    if platform.get("hub_manage_transport_dns", True):
        dns_servers = list(settings.get("dns_servers") or [])
        # No servers listed: back to the network adapter's DNS settings.
        transport = {"server": platform["server"], "external_dns_servers": dns_servers, "external_dns_adapter_enabled": not dns_servers}
    return {
        "accepted_domains": accepted,
        "relay_connector": relay,
        "inbound_connector": inbound,
        "transport_dns": transport,
        "send_connector": _send_connector(settings, platform),
    }


BUILDERS = {"hub": hub}


def resources_for(job, settings, platform):
    """The Exchange module options of ``job``; :class:`ExchangeJobError` (or KeyError) on bad input."""
    return BUILDERS[job](settings, platform or {})
