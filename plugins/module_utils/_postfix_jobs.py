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

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dkim, _dovecot_sasl, _job_settings, _topology
# Kept importable from here (filters, tests); lives with the host plan so that modules need not import this file.
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_host_plan import certificate_fingerprint  # noqa: F401 pylint: disable=unused-import

# Postfix 3.6 defaults (safe relay restrictions, smtputf8...) without compatibility warnings.
COMPATIBILITY_LEVEL = "3.6"
# Debian's mail user owns the hub's Maildirs; virtual(8) refuses uids below this bound.
MAILDIR_OWNER = {"uid": 8, "gid": 8}
MAILDIR_ROOT = "/var/mail/mailrelay"
# postmulti group of every job instance: a deploy finds the instances of jobs
# the description no longer gives the host, and retires them.
JOB_GROUP = "mailrelay"

# Submission limits per client address (anvil(8)), counted over ANVIL_TIME_UNIT.
ANVIL_TIME_UNIT = "60s"
# Mozilla's "intermediate" server profile (TLS 1.2 ciphers; TLS 1.3 suites are OpenSSL's defaults),
# https://ssl-config.mozilla.org/#server=postfix&config=intermediate (guidelines 5.7).
MOZILLA_INTERMEDIATE_CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
))
# The Received: line the submission server adds for an authenticated client (ESMTPA, ESMTPSA)
# loses its "from <client name> ([address])" part: a roaming user's address stays private.
RECEIVED_WITHOUT_CLIENT = (
    "/^Received: from .*[[:space:]](by [^[:space:]]+ \\(Postfix\\) with E?SMTPS?A[[:space:]].*)$/",
    "REPLACE Received: $1",
)
# Postfix matches subdomains of relay_domains by default: only the listed domains count here
# (".domain" entries add subdomains where the description asks for them).
PARENT_DOMAIN_MATCHES_SUBDOMAINS = "debug_peer_list, fast_flush_domains, mynetworks, permit_mx_backup_networks, qmqpd_authorized_clients"
POSTSCREEN_DEFAULTS = {
    "enabled": True,
    "greet_wait": 6,
    "pipelining": True,
    "dnsbl_sites": [],
    "dnsbl_threshold": 3,
    "allowlist": [],
}


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
        # The addresses a gateway forwards to this instance (published without it knowing): mail to
        # user@[outside address] is for this server itself, as for user@[its own address]. None removes it.
        "proxy_interfaces": ", ".join(str(ipaddress.ip_address(address)) for address in settings.get("proxy_interfaces") or []) or None,
        "smtpd_banner": "$myhostname ESMTP",
        "biff": False,
        "append_dot_mydomain": False,
        "mydestination": "",
        "alias_maps": "",
        "alias_database": "",
        # Postfix treats [own address] as local even with mydestination empty: an empty
        # recipient table refuses every local address at RCPT, and nothing is ever
        # delivered on the host (plain "postmaster" is qualified with myorigin first).
        "local_recipient_maps": _map_ref(settings["instance"], "local_recipients"),
        "local_transport": "error:5.1.1 no local delivery on %s" % settings["hostname"],
        "parent_domain_matches_subdomains": PARENT_DOMAIN_MATCHES_SUBDOMAINS,
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


def _smtpd_service(settings, port=None, options=None, command="smtpd", maxproc=None):
    """An SMTP listener of the job, unchrooted so no chroot copy is needed."""
    port = str(port or settings["port"])
    service_options = {"syslog_name": "%s/%s" % (settings["instance"], port)}
    service_options.update(options or {})
    service = {
        "service": port,
        "type": "inet",
        "private": "n",
        "chroot": "n",
        "command": command,
        "options": service_options,
    }
    if maxproc is not None:
        service["maxproc"] = maxproc
    return service


def _without_stock_listener(settings, services):
    if "smtp" not in [str(port) for port in _listen_ports(settings)]:
        # The stock port-25 listener goes: each job listens on its own ports only.
        services.append({"service": "smtp", "type": "inet", "state": "absent"})
    return services


def _listen_ports(settings):
    ports = [settings["port"]]
    if settings.get("implicit_tls_port"):
        ports.append(settings["implicit_tls_port"])
    return ports


def _master_cf(settings, options=None):
    return _without_stock_listener(settings, [_smtpd_service(settings, options=options)])


def _local_recipients():
    """The empty table behind local_recipient_maps: no local address is valid."""
    return {"name": "local_recipients", "type": "hash", "entries": ""}


def _limit(settings, name):
    value = settings.get(name)
    return _topology.SUBMISSION_LIMITS[name] if value in (None, "") else int(value)


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
        # TLS 1.2 and later only, with Mozilla's "intermediate" ciphers (docs/submission.md).
        smtpd_tls_protocols=">=TLSv1.2",
        smtpd_tls_mandatory_protocols=">=TLSv1.2",
        smtpd_tls_ciphers="medium",
        smtpd_tls_mandatory_ciphers="medium",
        tls_medium_cipherlist=MOZILLA_INTERMEDIATE_CIPHERS,
        tls_preempt_cipherlist=False,
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
        smtpd_recipient_restrictions="reject_non_fqdn_recipient, reject_unlisted_recipient, permit_sasl_authenticated, reject",
        smtp_tls_security_level="may",
        # Limits per client address against password guessing and abuse (anvil(8)).
        anvil_rate_time_unit=ANVIL_TIME_UNIT,
        smtpd_client_auth_rate_limit=_limit(settings, "auth_rate_limit"),
        smtpd_client_connection_rate_limit=_limit(settings, "connection_rate_limit"),
        smtpd_client_message_rate_limit=_limit(settings, "message_rate_limit"),
        smtpd_client_connection_count_limit=_limit(settings, "connection_count_limit"),
        smtpd_recipient_limit=_limit(settings, "recipient_limit"),
        # No client is exempt (the default exempts mynetworks, which is empty anyway).
        smtpd_client_event_limit_exceptions="",
    )
    if settings.get("client_certificate"):
        # The hub relays outward only for this certificate (hub_relay_client_fingerprints):
        # TLS to the hub is required, and the job's own certificate is the client certificate.
        main_cf.update(
            smtp_tls_security_level="encrypt",
            smtp_tls_cert_file=settings["tls_cert_file"],
            smtp_tls_key_file=settings["tls_key_file"],
        )
    service_options = {}
    maps = []
    services = []
    if settings.get("hide_client_in_received", True):
        # Only this instance's smtpd hands mail to this cleanup: authenticated mail only.
        service_options["cleanup_service_name"] = "submission-cleanup"
        services.append({
            "service": "submission-cleanup", "type": "unix", "private": "n", "chroot": "n", "maxproc": "0",
            "command": "cleanup", "options": {"header_checks": _map_ref(instance, "received_header_checks", "regexp")},
        })
        maps.append({"name": "received_header_checks", "type": "regexp", "entries": [list(RECEIVED_WITHOUT_CLIENT)]})
    else:
        services.append({"service": "submission-cleanup", "type": "unix", "state": "absent"})
        maps.append({"name": "received_header_checks", "state": "absent"})
    listeners = [_smtpd_service(settings, options=service_options)]
    if settings.get("implicit_tls_port"):
        # RFC 8314: TLS from the first byte; the same restrictions as the STARTTLS port.
        implicit = dict(service_options, smtpd_tls_wrappermode=True)
        listeners.append(_smtpd_service(settings, port=settings["implicit_tls_port"], options=implicit))
    owners = {}
    for user in settings["users"]:
        for sender in user["senders"]:
            owners.setdefault(sender.lower(), []).append(user["login"])
    maps.append({"name": "sender_logins", "type": "hash", "entries": _table((sender, ",".join(logins)) for sender, logins in sorted(owners.items()))})
    maps.append(_local_recipients())
    master_cf = _without_stock_listener(settings, listeners + services)
    return {"name": instance, "main_cf": main_cf, "master_cf": master_cf, "master_cf_mode": "listeners", "group": JOB_GROUP, "maps": maps}


def _domain_entries(settings):
    """``domain OK`` per own domain, plus ``.domain OK`` (its subdomains) when asked."""
    entries = [(domain, "OK") for domain in settings["domains"]]
    if settings.get("include_subdomains"):
        entries += [("." + domain, "OK") for domain in settings["domains"]]
    return _table(entries)


def recipient_validation(settings):
    """How the inbound relay knows valid recipients: list (a table), verify (asks the hub) or off."""
    mode = settings.get("recipient_validation") or ("list" if settings.get("recipients") else "off")
    if mode not in _topology.RECIPIENT_VALIDATION:
        raise ValueError("recipient_validation: %r is not one of %s" % (mode, ", ".join(_topology.RECIPIENT_VALIDATION)))
    return mode


def _postscreen(settings):
    """postscreen's settings: the role's values over POSTSCREEN_DEFAULTS."""
    given = settings.get("postscreen") or {}
    merged = dict(POSTSCREEN_DEFAULTS)
    merged.update((key, value) for key, value in given.items() if value is not None)
    return merged


def _dnsbl_sites(sites):
    """``site*weight`` items of postscreen_dnsbl_sites."""
    items = []
    for site in sites:
        if isinstance(site, str):
            site = {"site": site}
        weight = int(site.get("weight", 1))
        items.append(site["site"] if weight == 1 else "%s*%d" % (site["site"], weight))
    return ", ".join(items)


def inbound_relay(settings):
    """Anonymous, own domains and valid recipients only, forwarded to the hub; everything else refused."""
    instance = settings["instance"]
    main_cf = _common(settings)
    hops = next_hops(settings["next_hops"])
    validation = recipient_validation(settings)
    recipient_checks = ["reject_non_fqdn_recipient", "reject_unauth_destination"]
    if validation == "verify":
        # The hub is asked at RCPT time (address probe, cached); a temporary answer defers, never accepts.
        recipient_checks.append("reject_unverified_recipient")
    main_cf.update(
        mydomain=settings["domains"][0],
        myorigin="$mydomain",
        mynetworks="",
        relay_domains=_map_ref(instance, "relay_domains"),
        relay_transport="relay:" + hops,
        relay_recipient_maps=_map_ref(instance, "relay_recipients") if validation == "list" else "",
        # Whatever the relay itself must send (its non-delivery notices) leaves through the hub,
        # never straight to the Internet.
        relayhost=hops,
        smtpd_sasl_auth_enable=False,
        smtpd_client_restrictions="",
        smtpd_sender_restrictions="reject_non_fqdn_sender",
        smtpd_relay_restrictions="reject_unauth_destination",
        smtpd_recipient_restrictions=", ".join(recipient_checks),
        smtp_tls_security_level="may",
    )
    if validation == "verify":
        main_cf.update(
            unverified_recipient_reject_code=550,
            unverified_recipient_tempfail_action="defer",
            # The default reason quotes the hub's reply, address included: strangers need not see it. Postfix
            # prefixes "Recipient address rejected: undeliverable address:" (550) or "... unverified address:"
            # (450, the hub did not answer), so the text must suit both.
            unverified_recipient_reject_reason="address not confirmed by the mailbox server",
            # A probe the hub did not answer is discarded and its "deferred" result cached: asked again only
            # after this time (Postfix's default: 3h), and never within 1000 s of the last probe (verify(8)).
            # So an address first tried during a hub outage is accepted about 17 minutes after the hub is
            # back, not three hours.
            address_verify_negative_refresh_time="10m",
        )
    maps = [{"name": "relay_domains", "type": "hash", "entries": _domain_entries(settings)}]
    if validation == "list":
        maps.append({"name": "relay_recipients", "type": "hash", "entries": _table((address, "OK") for address in sorted(settings.get("recipients") or []))})
    else:
        maps.append({"name": "relay_recipients", "state": "absent"})
    maps.append(_local_recipients())
    postscreen = _postscreen(settings)
    if postscreen["enabled"]:
        master_cf = _postscreen_services(settings, postscreen)
        main_cf.update(_postscreen_main_cf(instance, postscreen))
        maps.append({
            "name": "postscreen_access",
            "type": "cidr",
            "entries": [[_cidr(address), "permit"] for address in postscreen["allowlist"]],
        })
    else:
        master_cf = _master_cf(settings) + [
            {"service": "smtpd", "type": "pass", "state": "absent"},
            {"service": "dnsblog", "type": "unix", "state": "absent"},
            {"service": "tlsproxy", "type": "unix", "state": "absent"},
        ]
        maps.append({"name": "postscreen_access", "state": "absent"})
    return {"name": instance, "main_cf": main_cf, "master_cf": master_cf, "master_cf_mode": "listeners", "group": JOB_GROUP, "maps": maps}


def _postscreen_services(settings, postscreen):
    """postscreen on the job's port; smtpd behind it; dnsblog and tlsproxy as it needs them."""
    services = [
        _smtpd_service(settings, command="postscreen", maxproc="1"),
        {"service": "smtpd", "type": "pass", "private": "-", "chroot": "n", "command": "smtpd",
         "options": {"syslog_name": "%s/%s" % (settings["instance"], settings["port"])}},
        # STARTTLS while postscreen itself talks to a client (after-greeting tests).
        {"service": "tlsproxy", "type": "unix", "private": "-", "chroot": "n", "maxproc": "0", "command": "tlsproxy"},
    ]
    if postscreen["dnsbl_sites"]:
        services.append({"service": "dnsblog", "type": "unix", "private": "-", "chroot": "n", "maxproc": "0", "command": "dnsblog"})
    else:
        services.append({"service": "dnsblog", "type": "unix", "state": "absent"})
    return _without_stock_listener(settings, services)


def _postscreen_main_cf(instance, postscreen):
    """Greeting and pipelining tests, optional DNS blocklists, an allow-list (POSTSCREEN_README)."""
    main_cf = {
        "postscreen_access_list": _map_ref(instance, "postscreen_access", "cidr"),
        "postscreen_denylist_action": "drop",
        "postscreen_greet_wait": "%ds" % int(postscreen["greet_wait"]),
        "postscreen_greet_action": "enforce",
        "postscreen_pipelining_enable": bool(postscreen["pipelining"]),
        "postscreen_pipelining_action": "enforce",
        "postscreen_non_smtp_command_enable": False,
        "postscreen_bare_newline_enable": False,
        "postscreen_dnsbl_sites": _dnsbl_sites(postscreen["dnsbl_sites"]),
        "postscreen_dnsbl_threshold": int(postscreen["dnsbl_threshold"]),
        "postscreen_dnsbl_action": "enforce",
    }
    return main_cf


def hub(settings):
    """Final destination of the own domains; talks only to the relays; relays outward only for submission."""
    instance = settings["instance"]
    main_cf = _common(settings)
    relay_clients = [_cidr(client["address"]) for client in settings["relay_clients"]]
    inbound_relays = _map_ref(instance, "inbound_relays", "cidr")
    notices = "check_client_access " + _map_ref(instance, "inbound_relay_notices", "cidr")
    fingerprints = sorted(set(fingerprint.upper() for fingerprint in settings.get("relay_client_fingerprints") or []))
    # Certificates on the hub's own host: the converge call reads them and trusts their fingerprints
    # itself, so that a no-op re-run needs no separate read (issue 16).
    certificate_files = sorted(set(settings.get("relay_client_certificate_files") or []))
    # Who may relay outward: the submission servers' certificates when known, else their addresses.
    relay_permit = "permit_tls_clientcerts" if fingerprints or certificate_files else "permit_mynetworks"
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
        smtpd_client_restrictions="permit_mynetworks, check_client_access %s, reject" % inbound_relays,
        smtpd_sender_restrictions="reject_non_fqdn_sender",
        # ...only the submission servers may relay outward, and the inbound relays only their
        # own non-delivery notices (null sender), which leave through the hub.
        smtpd_restriction_classes="inbound_relay_notices",
        inbound_relay_notices="check_sender_access inline:{<>=OK}",
        smtpd_relay_restrictions="%s, %s, reject_unauth_destination" % (relay_permit, notices),
        smtpd_recipient_restrictions="reject_non_fqdn_recipient, %s, %s, reject_unauth_destination" % (relay_permit, notices),
        smtpd_null_access_lookup_key="<>",
    )
    # DKIM signing (docs/dns.md): the OpenDKIM milter when on; its parameters removed when off.
    main_cf.update(_dkim.postfix_parameters((settings.get("dkim") or {}).get("milter")))
    maps = [
        {"name": "mailbox_domains", "type": "hash", "entries": _domain_entries(settings)},
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
        {
            "name": "inbound_relay_notices",
            "type": "cidr",
            "entries": [[_cidr(relay["address"]), "inbound_relay_notices"] for relay in settings["inbound_relays"]],
        },
        _local_recipients(),
    ]
    if fingerprints or certificate_files:
        if not (settings.get("tls_cert_file") and settings.get("tls_key_file")):
            raise ValueError("relay_client_fingerprints: the hub needs TLS material (tls_cert_file, tls_key_file) to ask for certificates")
        main_cf.update(
            smtpd_tls_ask_ccert=True,
            smtpd_tls_fingerprint_digest="sha256",
            relay_clientcerts=_map_ref(instance, "relay_clientcerts"),
        )
        maps.append({"name": "relay_clientcerts", "type": "hash", "entries": _table((fingerprint, "submission") for fingerprint in fingerprints)})
    else:
        main_cf.update(smtpd_tls_ask_ccert=False, relay_clientcerts="")
        maps.append({"name": "relay_clientcerts", "state": "absent"})
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
    master_cf = _master_cf(settings)
    # outbound.dns_servers: Postfix has no resolver setting of its own, but its chrooted smtp(8)
    # client reads $queue_directory/etc/resolv.conf, which the instance writes from these.
    dns_servers = list(settings.get("dns_servers") or [])
    if dns_servers:
        master_cf.append(dict(CHROOTED_SMTP_CLIENT))
    built = {"name": instance, "main_cf": main_cf, "master_cf": master_cf, "master_cf_mode": "listeners", "group": JOB_GROUP,
             "maps": maps, "dns_servers": dns_servers}
    if certificate_files:
        built["certificate_entries"] = [{"map": "relay_clientcerts", "files": certificate_files, "value": "submission"}]
    return built


# The hub's delivery client, chrooted so that it resolves through the instance's own resolv.conf.
CHROOTED_SMTP_CLIENT = {"service": "smtp", "type": "unix", "private": "-", "unpriv": "-", "chroot": "y", "command": "smtp"}


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


# The settings each job role hands to its builder (roles/JOB/vars/main.yml), in
# the order playbooks/site.yml deploys the jobs of one host: the hub first.
JOB_SETTINGS = {
    "hub": (
        "instance", "address", "port", "hostname", "domains", "relay_clients", "relay_networks",
        "inbound_relays", "mailboxes", "include_subdomains", "relay_client_fingerprints",
        "relay_client_certificate_files", "outbound_method", "smarthost", "dns_servers",
        "tls_cert_file", "tls_key_file", "max_message_size", "dkim",
    ),
    "inbound_relay": (
        "instance", "address", "port", "hostname", "domains", "next_hops", "recipients",
        "recipient_validation", "include_subdomains", "postscreen", "tls_cert_file", "tls_key_file",
        "max_message_size", "proxy_interfaces",
    ),
    "submission": (
        "instance", "address", "port", "hostname", "placeholder_domain", "next_hops", "users",
        "tls_cert_file", "tls_key_file", "max_message_size", "sasl_path", "sender_login_maps",
        "implicit_tls_port", "auth_rate_limit", "connection_rate_limit", "message_rate_limit",
        "connection_count_limit", "recipient_limit", "hide_client_in_received", "client_certificate",
        "proxy_interfaces",
    ),
}
# Role variables that the topology does not set (the roles' defaults; site.yml passes the
# inventory's values when it has them).
ROLE_ONLY_DEFAULTS = {
    "hub": {"relay_networks": False},
    "inbound_relay": {},
    "submission": {"sasl_path": "", "sender_login_maps": "", "dovecot_manage": True, "hash_iterations": 100000},
}


def host_job_settings(jobs, host, hub_fingerprints=(), role_settings=None):
    """The settings of each Postfix job of one host, as its job role would build them.

    ``jobs`` is the host's entry of ``_topology.jobs_by_host``; ``hub_fingerprints``
    the fingerprints of the hub's trusted certificates on other hosts;
    ``role_settings`` per job, the role-only settings (``ROLE_ONLY_DEFAULTS``) to
    use instead of the defaults. Returns ``[(job, settings, role_only)]``, hub first.
    """
    role_settings = role_settings or {}
    found = []
    for job in JOB_SETTINGS:
        given = (jobs or {}).get(job)
        if not given or given.get(job + "_platform", "postfix") != "postfix":
            continue
        role_only = dict(ROLE_ONLY_DEFAULTS[job], **(role_settings.get(job) or {}))
        values = {name[len(job) + 1:]: value for name, value in given.items()}
        values.update(role_only)
        if job == "hub":
            certificates = values.get("relay_client_certificates") or []
            values["relay_client_fingerprints"] = list(hub_fingerprints)
            values["relay_client_certificate_files"] = [item["cert_file"] for item in certificates if item["host"] == host]
        settings = {name: values.get(name) for name in JOB_SETTINGS[job]}
        found.append((job, settings, role_only))
    return found


def host_instance(job, settings, role_only):
    """The instance of one job as its role adds it to the host's list (the submission
    server's Dovecot users travel with it unless Dovecot is managed elsewhere)."""
    instance = instance_for(job, settings)
    if job == "submission" and role_only["dovecot_manage"]:
        users = [{key: value for key, value in user.items() if key in ("login", "password")} for user in settings["users"] or []]
        instance = dict(instance, dovecot_sasl={"users": users, "hash_iterations": int(role_only["hash_iterations"])})
    return instance


class JobSettingsError(ValueError):
    """A job's settings that its role would refuse; the message names the host, the job and every problem."""


def _submission_problems(settings, role_only):
    # What the submission role's Postfix tasks assert before they add the instance.
    problems = []
    if role_only["dovecot_manage"] and not settings["users"]:
        problems.append("submission_users: who may authenticate is needed while submission_dovecot_manage is true")
    if not role_only["dovecot_manage"] and not settings["sasl_path"]:
        problems.append("submission_sasl_path: needed when submission_dovecot_manage is false")
    if not settings["sender_login_maps"] and not settings["users"]:
        problems.append("submission_sender_login_maps: needed when there are no submission_users")
    for name in ("tls_cert_file", "tls_key_file"):
        if not settings[name]:
            problems.append("submission_%s: needed (AUTH is offered only over TLS)" % name)
    return problems


def host_instances(jobs, host, hub_fingerprints=(), role_settings=None):
    """Every Postfix instance of one host, hub first, with the job roles' own checks.

    Returns ``(instances, warnings)``. Raises JobSettingsError when a job role would
    refuse its settings, and KeyError, ValueError or TypeError when ``jobs`` is not
    what ``_topology.jobs_by_host`` derives.
    """
    instances = []
    warnings = []
    for job, settings, role_only in host_job_settings(jobs, host, hub_fingerprints, role_settings):
        problems, found = _job_settings.check(job, settings)
        if job == "submission":
            problems += _submission_problems(settings, role_only)
        if problems:
            raise JobSettingsError("the %s settings of %s are refused (nothing was changed):\n- %s" % (job, host, "\n- ".join(problems)))
        warnings.extend(found)
        instances.append(host_instance(job, settings, role_only))
    return instances, warnings


def hub_foreign_certificates(jobs_by_host, hubs):
    """The certificates that the hubs among ``hubs`` trust and that live on
    another host: ``[{hub, host, cert_file}]``, to be read where they live."""
    found = []
    for hub in hubs:
        job = (jobs_by_host.get(hub) or {}).get("hub")
        if not job:
            continue
        for certificate in job.get("hub_relay_client_certificates") or []:
            if certificate["host"] != hub:
                found.append({"hub": hub, "host": certificate["host"], "cert_file": certificate["cert_file"]})
    return found
