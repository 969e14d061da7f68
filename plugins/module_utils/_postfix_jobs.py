# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What each job of the topology means in Postfix terms.

Takes a job's settings (the job role's variables without their prefix) and
returns the Postfix instance that serves it, in the form the
``mailrelay.smtp.postfix`` role and ``postfix_instance`` module take:
``{name, main_cf, master_cf, maps}``. Keeping this here, rather than in
Jinja, lets unit tests read every restriction a job gets.

The parameters follow Postfix's own anti-relay advice (SMTPD_ACCESS_README,
postconf(5)): relaying is decided only by ``smtpd_relay_restrictions``;
routing syntax in addresses (percent hack, bang paths, quoted local parts,
source routes) is never turned into a foreign destination.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dkim, _dovecot_sasl

# Postfix 3.6 defaults (safe relay restrictions, smtputf8...) without compatibility warnings.
COMPATIBILITY_LEVEL = "3.6"
# Debian's mail user owns the hub's Maildirs; virtual(8) refuses uids below this bound.
MAILDIR_OWNER = {"uid": 8, "gid": 8}
MAILDIR_ROOT = "/var/mail/mailrelay"
# postmulti group of every job instance: a deploy finds the instances of jobs
# the description no longer gives the host, and retires them.
JOB_GROUP = "mailrelay"


def config_dir(instance):
    return "/etc/" + instance


def _table(pairs):
    """Table text, one ``key value`` line per pair: one string instead of thousands of
    small objects for Ansible to template when a topology has 1,000 domains."""
    return "".join("%s %s\n" % pair for pair in pairs)


def _map_ref(instance, name, kind="hash"):
    return "%s:%s/%s" % (kind, config_dir(instance), name)


def _hop(hop):
    """``[address]:port``: brackets, so Postfix does no MX lookup for the hub."""
    address = ipaddress.ip_address(hop["address"])
    return "[%s]:%d" % (address, int(hop.get("port") or 25))


def next_hops(hops):
    """A next-hop list in the form relayhost and transport entries take (Postfix 3.5+)."""
    return ", ".join(_hop(hop) for hop in hops)


def _cidr(address):
    network = ipaddress.ip_network(address)
    # mynetworks writes IPv6 networks in brackets.
    return str(network) if network.version == 4 else "[%s]/%d" % (network.network_address, network.prefixlen)


def _common(settings):
    """Parameters every job's instance gets."""
    address = ipaddress.ip_address(settings["address"])
    main_cf = {
        "compatibility_level": COMPATIBILITY_LEVEL,
        "myhostname": settings["hostname"],
        "inet_interfaces": str(address),
        "inet_protocols": "ipv4" if address.version == 4 else "ipv6",
        # Each instance speaks from its own address, so the hub sees who is talking.
        "smtp_bind_address" if address.version == 4 else "smtp_bind_address6": str(address),
        "maillog_file": "/var/log/%s.log" % settings["instance"],
        "smtpd_banner": "$myhostname ESMTP",
        "biff": False,
        "append_dot_mydomain": False,
        "mydestination": "",
        "alias_maps": "",
        "alias_database": "",
        "local_recipient_maps": "",
        # Nobody submits mail locally to a relay (postmulti's default for new instances).
        "authorized_submit_users": "",
        "disable_vrfy_command": True,
        "smtpd_helo_required": True,
        # Never turn routing syntax in an address into a foreign destination.
        "allow_percent_hack": False,
        "swap_bangpath": False,
        "allow_untrusted_routing": False,
        "resolve_dequoted_address": False,
        "strict_rfc821_envelopes": True,
        "smtputf8_enable": False,
    }
    if settings.get("max_message_size"):
        main_cf["message_size_limit"] = int(settings["max_message_size"])
    if settings.get("tls_cert_file") and settings.get("tls_key_file"):
        main_cf.update(
            smtpd_tls_cert_file=settings["tls_cert_file"],
            smtpd_tls_key_file=settings["tls_key_file"],
            smtpd_tls_security_level="may",
            smtpd_tls_loglevel=1,
        )
    return main_cf


def _smtpd_service(settings, options=None):
    """The job's only SMTP listener (port 25 or 587), unchrooted so no chroot copy is needed."""
    service_options = {"syslog_name": "%s/%s" % (settings["instance"], settings["port"])}
    service_options.update(options or {})
    return {
        "service": str(settings["port"]),
        "type": "inet",
        "private": "n",
        "chroot": "n",
        "command": "smtpd",
        "options": service_options,
    }


def _master_cf(settings, options=None):
    services = [_smtpd_service(settings, options)]
    if str(settings["port"]) != "smtp":
        # The stock port-25 listener goes: each job listens on its own port only.
        services.append({"service": "smtp", "type": "inet", "state": "absent"})
    return services


def submission(settings):
    """Authenticated users only, over TLS only, as their own addresses only, everything to the hub."""
    instance = settings["instance"]
    main_cf = _common(settings)
    main_cf.update(
        mydomain=settings["placeholder_domain"],
        myorigin="$mydomain",
        relay_domains="",
        # Nothing is delivered here; every message goes to the hub.
        local_transport="error:5.1.1 this submission server is not a final destination",
        relayhost=next_hops(settings["next_hops"]),
        mynetworks="",
        smtpd_tls_security_level="encrypt",
        smtpd_tls_auth_only=True,
        smtpd_sasl_auth_enable=True,
        smtpd_sasl_type="dovecot",
        # Dovecot's socket lives outside the queue (the smtpd service is not chrooted);
        # sasl_path points at another Dovecot (LDAP, Active Directory) instead.
        smtpd_sasl_path=settings.get("sasl_path") or _dovecot_sasl.socket_path(instance),
        smtpd_sasl_security_options="noanonymous, noplaintext",
        smtpd_sasl_tls_security_options="noanonymous",
        smtpd_sasl_authenticated_header=False,
        # Who may use which sender address: from the users, or a table of the caller's (e.g. ldap:).
        smtpd_sender_login_maps=settings.get("sender_login_maps") or _map_ref(instance, "sender_logins"),
        smtpd_client_restrictions="",
        smtpd_sender_restrictions="reject_non_fqdn_sender, reject_sender_login_mismatch",
        smtpd_relay_restrictions="permit_sasl_authenticated, reject",
        smtpd_recipient_restrictions="reject_non_fqdn_recipient, permit_sasl_authenticated, reject",
        smtp_tls_security_level="may",
    )
    owners = {}
    for user in settings["users"]:
        for sender in user["senders"]:
            owners.setdefault(sender.lower(), []).append(user["login"])
    maps = [{"name": "sender_logins", "type": "hash", "entries": _table((sender, ",".join(logins)) for sender, logins in sorted(owners.items()))}]
    return {"name": instance, "main_cf": main_cf, "master_cf": _master_cf(settings), "master_cf_mode": "listeners", "group": JOB_GROUP, "maps": maps}


def inbound_relay(settings):
    """Anonymous, own domains only, forwarded to the hub; everything else refused."""
    instance = settings["instance"]
    main_cf = _common(settings)
    main_cf.update(
        mydomain=settings["domains"][0],
        myorigin="$mydomain",
        mynetworks="",
        relay_domains=_map_ref(instance, "relay_domains"),
        relay_transport="relay:" + next_hops(settings["next_hops"]),
        relay_recipient_maps=_map_ref(instance, "relay_recipients") if settings.get("recipients") else "",
        relayhost="",
        smtpd_sasl_auth_enable=False,
        smtpd_client_restrictions="",
        smtpd_sender_restrictions="reject_non_fqdn_sender",
        smtpd_relay_restrictions="reject_unauth_destination",
        smtpd_recipient_restrictions="reject_non_fqdn_recipient, reject_unauth_destination",
        smtp_tls_security_level="may",
    )
    maps = [{"name": "relay_domains", "type": "hash", "entries": _table((domain, "OK") for domain in settings["domains"])}]
    if settings.get("recipients"):
        maps.append({"name": "relay_recipients", "type": "hash", "entries": _table((address, "OK") for address in sorted(settings["recipients"]))})
    else:
        maps.append({"name": "relay_recipients", "state": "absent"})
    return {"name": instance, "main_cf": main_cf, "master_cf": _master_cf(settings), "master_cf_mode": "listeners", "group": JOB_GROUP, "maps": maps}


def hub(settings):
    """Final destination of the own domains; talks only to the relays; relays outward only for submission."""
    instance = settings["instance"]
    main_cf = _common(settings)
    relay_clients = [_cidr(client["address"]) for client in settings["relay_clients"]]
    main_cf.update(
        mydomain=settings["domains"][0],
        myorigin="$mydomain",
        relay_domains="",
        mynetworks=", ".join(relay_clients),
        mynetworks_style="host",
        virtual_mailbox_domains=_map_ref(instance, "mailbox_domains"),
        virtual_mailbox_maps=_map_ref(instance, "mailboxes"),
        virtual_mailbox_base="%s/%s" % (MAILDIR_ROOT, instance),
        virtual_uid_maps="static:%d" % MAILDIR_OWNER["uid"],
        virtual_gid_maps="static:%d" % MAILDIR_OWNER["gid"],
        virtual_minimum_uid=MAILDIR_OWNER["uid"],
        # Mail written on the hub itself (sendmail) is part of the "hub -> Internet" path.
        authorized_submit_users="static:anyone",
        # Only the submission servers and inbound relays may talk to the hub at all...
        smtpd_client_restrictions="permit_mynetworks, check_client_access %s, reject" % _map_ref(instance, "inbound_relays", "cidr"),
        smtpd_sender_restrictions="reject_non_fqdn_sender",
        # ...and only the submission servers may relay outward.
        smtpd_relay_restrictions="permit_mynetworks, reject_unauth_destination",
        smtpd_recipient_restrictions="reject_non_fqdn_recipient, permit_mynetworks, reject_unauth_destination",
    )
    # DKIM signing (docs/dns.md): the OpenDKIM milter when on; its parameters removed when off.
    main_cf.update(_dkim.postfix_parameters((settings.get("dkim") or {}).get("milter")))
    maps = [
        {"name": "mailbox_domains", "type": "hash", "entries": _table((domain, "OK") for domain in settings["domains"])},
        {
            "name": "mailboxes",
            "type": "hash",
            # Maildir (trailing slash) under virtual_mailbox_base: DOMAIN/USER/.
            "entries": _table((address, "%s/%s/" % (address.split("@")[1], address.split("@")[0])) for address in sorted(settings.get("mailboxes") or [])),
        },
        {
            "name": "inbound_relays",
            "type": "cidr",
            "entries": [[_cidr(relay["address"]), "OK"] for relay in settings["inbound_relays"]],
        },
    ]
    smarthost = settings.get("smarthost") if settings.get("outbound_method") == "smarthost" else None
    if smarthost:
        if _is_ip(smarthost["host"]):
            destination = _hop({"address": smarthost["host"], "port": smarthost["port"]})
        else:
            destination = "[%s]:%d" % (smarthost["host"], smarthost["port"])
        main_cf.update(
            relayhost=destination,
            smtp_tls_security_level={"none": "none", "may": "may", "encrypt": "encrypt"}[smarthost.get("tls") or "may"],
        )
        if smarthost.get("username"):
            main_cf.update(
                smtp_sasl_auth_enable=True,
                smtp_sasl_password_maps=_map_ref(instance, "sasl_passwd"),
                smtp_sasl_security_options="noanonymous",
                smtp_sasl_tls_security_options="noanonymous",
            )
            maps.append({
                "name": "sasl_passwd",
                "type": "hash",
                "secret": True,
                "entries": {destination: "%s:%s" % (smarthost["username"], smarthost["password"])},
            })
        else:
            main_cf.update(NO_SMARTHOST_CREDENTIALS)
            maps.append({"name": "sasl_passwd", "state": "absent"})
    else:
        main_cf.update(relayhost="", smtp_tls_security_level="may", **NO_SMARTHOST_CREDENTIALS)
        maps.append({"name": "sasl_passwd", "state": "absent"})
    return {"name": instance, "main_cf": main_cf, "master_cf": _master_cf(settings), "master_cf_mode": "listeners", "group": JOB_GROUP, "maps": maps}


# Without smart-host credentials, the parameters that exist only for them go
# too (None removes a parameter): a password map reference left behind would
# name a table that no longer exists.
NO_SMARTHOST_CREDENTIALS = {
    "smtp_sasl_auth_enable": False,
    "smtp_sasl_password_maps": None,
    "smtp_sasl_security_options": None,
    "smtp_sasl_tls_security_options": None,
}


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


BUILDERS = {"submission": submission, "inbound_relay": inbound_relay, "hub": hub}


def instance_for(job, settings):
    """The Postfix instance that serves ``job`` with ``settings``."""
    return BUILDERS[job](settings)
