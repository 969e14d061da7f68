#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_config
short_description: Converge one Postfix configuration (main.cf, master.cf, lookup tables) in one call
version_added: 0.1.0
description:
  - Brings the C(main.cf) parameters, the C(master.cf) services and the lookup tables of one Postfix
    configuration directory to the declared state in a single module call.
  - "The new configuration is staged and validated before it replaces the live one: the complete new
    configuration is written into a private staging directory and checked with C(postconf -c STAGE -n)
    (errors, and unused parameters unless O(allow_unused_parameters)), C(postconf -c STAGE -P)
    (C(master.cf) syntax), C(postmap) on every new table (duplicates and malformed lines fail), and
    C(postfix -c STAGE check); then the module checks itself that every table named in C(main.cf)
    and in C(master.cf) C(-o) options exists (or is written by this same call), that every certificate,
    key and CA file exists, that every address in C(inet_interfaces) is configured on a local interface
    (Postfix refuses addresses that merely can be bound, such as an unconfigured 127.0.0.0/8 address) and
    every host name there resolves to such addresses, that C(smtp_bind_address) can be bound, that
    C(maillog_file) lies under C(maillog_file_prefixes) (otherwise Postfix refuses to start without a word),
    and that every C(master.cf) command exists in C(daemon_directory)."
  - Only when every check passes are the files replaced - tables first, then C(master.cf), then C(main.cf),
    each by an atomic rename. When a check fails, the live files stay byte-identical, the running
    Postfix is not touched, and the error message lists every problem with the parameter or option it
    concerns.
  - A run that changes nothing only reads files and starts no process.
  - The module never reloads Postfix. It returns RV(reload_needed) and RV(restart_needed) so that a
    handler can act (see the C(mailrelay.smtp.postfix) role), or use M(mailrelay.smtp.postfix_instance),
    which also controls the service.
author: Mailrelay Maintainers (@mailrelay)
extends_documentation_fragment:
  - mailrelay.smtp._postfix_config
attributes:
  check_mode:
    support: full
    description:
      - Reports exactly what would change against the live files (a hand edit shows up as drift) and
        writes nothing. The new configuration is validated too, except for C(postfix check), which
        may create queue directories.
  diff_mode:
    support: full
    description: One before/after item per changed file; values of secret tables are masked.
  platform:
    support: full
    platforms: posix
    description: Linux hosts with Postfix 3.x; the role installs it on Debian and Ubuntu.
options:
  config_dir:
    description:
      - The configuration directory (the one C(postconf -c) takes). It must exist.
    type: path
    default: /etc/postfix
notes:
  - Requires Postfix on the managed host (C(postconf), C(postmap), C(postfix)); run as root.
  - Validation changes nothing live, but C(postfix check) may create missing queue directories of the
    new configuration, as it does on every C(postfix start).
seealso:
  - module: mailrelay.smtp.postfix_instance
  - name: postconf(5)
    description: Postfix configuration parameters.
    link: https://www.postfix.org/postconf.5.html
  - name: master(5)
    description: The master.cf file format.
    link: https://www.postfix.org/master.5.html
"""

EXAMPLES = r"""
- name: Converge the relay instance's configuration
  mailrelay.smtp.postfix_config:
    config_dir: /etc/postfix-relay
    main_cf:
      myhostname: relay.example.com
      inet_interfaces: 192.0.2.25
      smtp_bind_address: 192.0.2.25
      relay_domains: hash:/etc/postfix-relay/relay_domains
      transport_maps: hash:/etc/postfix-relay/transport
      smtpd_relay_restrictions:
        - permit_mynetworks
        - reject_unauth_destination
      smtpd_tls_security_level: may
      biff: false
      mydestination: ""
      inet_protocols: ~            # removes the parameter
    master_cf:
      - service: submission
        type: inet
        private: n
        chroot: n
        command: smtpd
        options:
          syslog_name: postfix/submission
          smtpd_tls_security_level: encrypt
          smtpd_client_restrictions: permit_sasl_authenticated, reject
      - service: smtps
        type: inet
        state: absent
    maps:
      - name: relay_domains
        entries:
          example.com: OK
          example.net: OK
      - name: transport
        entries:
          example.com: smtp:[hub.example.com]
      - name: sasl_passwd
        secret: true
        entries:
          - ["[smtp.provider.example]:587", "relayuser:{{ vault_relay_password }}"]
      - name: header_checks
        type: pcre
        entries:
          - ["/^Received:.*internal/", "IGNORE"]
          - ["/^X-Mailer:/", "IGNORE"]
  register: relay_config

- name: Reload when the configuration changed
  ansible.builtin.command: postfix -c /etc/postfix-relay {{ 'stop' if relay_config.restart_needed else 'reload' }}
  when: relay_config.reload_needed

- name: Exactly these parameters, nothing else
  mailrelay.smtp.postfix_config:
    config_dir: /etc/postfix-hub
    main_cf_mode: exclusive
    main_cf:
      compatibility_level: "3.6"
      myhostname: hub.example.com
      inet_interfaces: 192.0.2.2
      mynetworks: 127.0.0.0/8, 192.0.2.25/32
"""

RETURN = r"""
changed:
  description: Whether anything changed (or would change, in check mode).
  returned: always
  type: bool
config_dir:
  description: The configuration directory.
  returned: always
  type: str
  sample: /etc/postfix
main_cf:
  description: Names of the C(main.cf) parameters that were added, changed and removed.
  returned: always
  type: dict
  contains:
    added:
      description: Parameters that were not defined before.
      type: list
      elements: str
    changed:
      description: Parameters whose value changed.
      type: list
      elements: str
    removed:
      description: Parameters that were removed.
      type: list
      elements: str
  sample: {"added": ["smtp_bind_address"], "changed": ["myhostname"], "removed": []}
master_cf:
  description: C(master.cf) services (C(service/type)) that were added, changed and removed.
  returned: always
  type: dict
  contains:
    added:
      description: Services that were not defined before.
      type: list
      elements: str
    changed:
      description: Services whose entry was rewritten.
      type: list
      elements: str
    removed:
      description: Services that were removed.
      type: list
      elements: str
  sample: {"added": ["submission/inet"], "changed": [], "removed": ["smtps/inet"]}
maps:
  description: Table files (source paths) by what happened to them.
  returned: always
  type: dict
  contains:
    written:
      description: Tables whose source file was written.
      type: list
      elements: str
    postmapped:
      description: Indexed tables whose database was (re)built with postmap.
      type: list
      elements: str
    removed:
      description: Tables whose files were removed.
      type: list
      elements: str
    attributes:
      description: Tables whose content was right but whose owner or mode was fixed.
      type: list
      elements: str
  sample: {"written": ["/etc/postfix/transport"], "postmapped": ["/etc/postfix/transport"], "removed": [], "attributes": []}
reload_needed:
  description:
    - Postfix must be reloaded (C(postfix reload)) to use the new configuration. Changes to indexed
      tables alone do not need it.
  returned: always
  type: bool
restart_needed:
  description:
    - Postfix must be stopped and started, because a parameter changed that the running master(8)
      reads only at start-up (C(inet_interfaces), C(inet_protocols), the queue, data and daemon
      directories, C(mail_owner), C(setgid_group), C(import_environment)).
  returned: always
  type: bool
restart_parameters:
  description: The changed parameters that require the restart.
  returned: always
  type: list
  elements: str
  sample: ["inet_interfaces"]
validated:
  description: Whether the staged configuration went through validation in this run.
  returned: always
  type: bool
problems:
  description: Every reason why validation refused the new configuration.
  returned: when validation failed
  type: list
  elements: str
  sample: ["main_cf.inet_interfaces: address 127.0.2.99 is not assigned to a local interface"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_args import (
    POSTFIX_ERRORS,
    config_argument_spec,
    failure,
    secret_map_values,
)
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import PostfixConfigError
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_engine import ConfigRequest, converge
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_host import LocalHost


def main():
    argument_spec = config_argument_spec()
    argument_spec['config_dir'] = dict(type='path', default='/etc/postfix')
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    # Before anything can fail: no secret may reach the invocation or a message.
    for value in secret_map_values(module.params['maps']):
        module.no_log_values.add(value)

    try:
        request = ConfigRequest.from_params(module.params)
    except PostfixConfigError as exc:
        module.fail_json(**failure(exc, module.params['config_dir']))

    host = LocalHost(module.run_command)
    try:
        dummy, result = converge(host, request, check_mode=module.check_mode, want_diff=module._diff)
    except POSTFIX_ERRORS as exc:
        module.fail_json(config_dir=request.config_dir, **failure(exc, request.config_dir))

    for warning in result.pop('warnings'):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
