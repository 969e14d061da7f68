#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_instance
short_description: Create, configure, run, disable and remove Postfix instances (postmulti) in one call
version_added: 0.1.0
description:
  - Manages one Postfix instance per call - the primary instance (O(name=postfix), in C(/etc/postfix)) or a
    secondary instance managed by postmulti(1) (O(name=postfix-NAME)) - so that several SMTP servers, each
    bound to its own address, can run on one machine. One instance per host works the same way, with
    O(name=postfix).
  - "In one call it ensures the instance exists, converges its configuration with the same options and the
    same staged validation as M(mailrelay.smtp.postfix_config) (the configuration is validated before the
    instance is started), and ensures the service state."
  - When the first secondary instance is created, multi-instance support is prepared if needed - a minimal
    primary C(main.cf) that accepts no network mail (C(master_service_disable = inet)) when there is none
    (Debian's "No configuration" install), then C(postmulti -e init).
  - "A newly created instance gets what postmulti leaves out: it is enabled unless O(enabled=false), and the
    C(master_service_disable = inet) that postmulti writes into a new instance is removed unless O(main_cf)
    sets it. Set C(inet_interfaces), C(myhostname) and C(smtp_bind_address) of every instance, or the
    instances clash (see the collection's C(docs/postfix_config.md))."
  - Validation also refuses an address and port that another instance of the host binds already. Postfix
    listens with C(SO_REUSEPORT), so two instances on the same address and port do not fail; the kernel
    silently spreads the connections over both.
  - The module remembers, next to C(master.pid), the values of the start-up-only parameters the running
    master was started with, so RV(restart_needed) stays true on later runs until the instance is restarted.
  - Runs that create or remove instances, or change the primary instance, are serialised with a lock
    (C(/run/mailrelay-postmulti.lock)), because postmulti rewrites the primary C(main.cf) by
    read-modify-write.
  - Before it starts an instance whose C(master.cf) chroots a service, the module copies what chrooted
    services read into the queue directory (C(resolv.conf), C(hosts), C(services), C(nsswitch.conf),
    C(localtime), NSS modules that glibc lacks, C(smtp_tls_CApath)/C(smtpd_tls_CApath) certificates), as
    Debian's C(configure-instance.sh) did; it does not run that script (Debian 13 refuses it), so Debian 12
    and 13 take the same path.
  - Where systemd runs and Debian's C(postfix@.service) template serves the instance, it is started and
    stopped through that unit (C(postfix@postfix-NAME) on Debian 12, C(postfix@NAME) for C(/etc/postfix-NAME)
    on Debian 13); elsewhere (containers, hosts without systemd as PID 1) with C(postfix start) directly.
    When the start fails, the message includes the new lines of the instance's C(maillog_file), where
    Postfix writes the reason.
  - When the configuration of an instance created by the same call is refused, the new instance is destroyed
    again. When it is valid but C(postfix start) fails, the instance stays (configured, not running) for
    inspection.
  - Removal stops the instance, disables it, removes the sockets and chroot copies that make
    C(postmulti -e destroy) fail, destroys it and removes the directories that carry the instance's name. An
    instance with mail in its queue is never removed.
  - A run that changes nothing only reads files (and C(/proc)) and starts no process.
author: Mailrelay Maintainers (@mailrelay)
extends_documentation_fragment:
  - mailrelay.smtp._postfix_config
attributes:
  check_mode:
    support: full
    description:
      - Reports what would change without changing anything. For an instance that does not exist yet, the
        configuration diff is not computed (there are no files to compare with).
  diff_mode:
    support: full
    description: Shows the instance's presence and every changed file; values of secret tables are masked.
  platform:
    support: full
    platforms: posix
    description: Linux hosts with Postfix 3.x; the role installs it on Debian and Ubuntu.
options:
  name:
    description:
      - V(postfix) for the primary instance (C(/etc/postfix)), or C(postfix-NAME) for a secondary instance.
    type: str
    required: true
  config_dir:
    description:
      - Configuration directory of a new secondary instance. An existing instance is found wherever the
        primary instance's C(multi_instance_directories) says it is.
      - Defaults to C(/etc/NAME). Ignored for the primary instance.
    type: path
  group:
    description:
      - postmulti(1) instance group (C(multi_instance_group)), so that a group of instances can be managed
        together. An empty string removes the instance from its group.
      - Secondary instances only. Not changed when omitted.
    type: str
  state:
    description:
      - V(present) creates and configures the instance; V(absent) removes a secondary instance.
    type: str
    choices: [present, absent]
    default: present
  queued:
    description:
      - What O(state=absent) does with mail still in the instance's queue. Removing an instance with queued
        mail would lose that mail.
      - V(refuse) fails before anything is stopped while the queue is not empty (the instance keeps serving).
      - V(flush) asks the running instance to deliver its queue (C(postqueue -f)) and waits up to 30 seconds;
        when mail is still queued then, it refuses like V(refuse).
      - V(drop) deletes the queued mail (C(postsuper -d ALL)) after stopping the instance.
    type: str
    choices: [refuse, flush, drop]
    default: refuse
  enabled:
    description:
      - Whether the instance starts with the others (C(multi_instance_enable)), for example at boot.
      - Independent of O(service_state). Secondary instances only.
      - When omitted, a new instance is enabled and an existing one is left as it is.
    type: bool
  service_state:
    description:
      - V(started) starts the instance when it is not running, but does B(not) reload it after a configuration
        change; it returns RV(reload_needed) and RV(restart_needed) so that a handler decides.
      - V(stopped) stops it when it runs.
      - V(reloaded) reloads it (or restarts it when RV(restart_needed)) and starts it when it is not running;
        V(restarted) stops and starts it. Both always report a change, like M(ansible.builtin.service).
      - V(unmanaged) leaves the process alone.
    type: str
    choices: [started, stopped, reloaded, restarted, unmanaged]
    default: started
  dns_servers:
    description:
      - The name servers this instance's chrooted services ask (the smtp(8) client looks up MX and address records),
        instead of the host's C(/etc/resolv.conf). They are written to C($queue_directory/etc/resolv.conf), which a
        chrooted service reads as its C(/etc/resolv.conf). Up to three IP addresses.
      - Needs a service that runs chrooted (for example C(smtp unix - - y - - smtp) in C(master.cf)); refused otherwise,
        before anything changes. A change is applied by a reload (RV(reload_needed)).
      - An empty list puts the copy of the host's C(/etc/resolv.conf) back. When omitted, the file is left as it is.
    type: list
    elements: str
notes:
  - Requires Postfix with postmulti(1) on the managed host; run as root.
  - C(postmulti -e create) takes a few seconds and C(postmulti -e destroy) a few more; a no-op run takes neither.
seealso:
  - module: mailrelay.smtp.postfix_config
  - name: MULTI_INSTANCE_README
    description: Managing multiple Postfix instances on a single host.
    link: https://www.postfix.org/MULTI_INSTANCE_README.html
"""

EXAMPLES = r"""
- name: Submission and inbound relay on one machine, each on its own address
  mailrelay.smtp.postfix_instance:
    name: "{{ item.name }}"
    group: mta
    main_cf:
      compatibility_level: "3.6"
      myhostname: "{{ item.hostname }}"
      inet_interfaces: "{{ item.address }}"
      smtp_bind_address: "{{ item.address }}"
      inet_protocols: ipv4
      maillog_file: /var/log/{{ item.name }}.log
      mydestination: ""
      relayhost: "[10.0.0.2]"
  loop:
    - {name: postfix-submission, hostname: submission.example.com, address: 192.0.2.10}
    - {name: postfix-inbound, hostname: mx.example.com, address: 192.0.2.11}
  register: instances
  notify: "mailrelay.smtp : postfix instances changed"

- name: One instance per host - the primary, configured and running
  mailrelay.smtp.postfix_instance:
    name: postfix
    main_cf:
      myhostname: mail.example.com
      inet_interfaces: all

- name: Reload after a change (what the role's handler does)
  mailrelay.smtp.postfix_instance:
    name: postfix-inbound
    service_state: "{{ 'restarted' if instances.results[1].restart_needed else 'reloaded' }}"
  when: instances.results[1].reload_needed

- name: Remove an instance
  mailrelay.smtp.postfix_instance:
    name: postfix-old
    state: absent
"""

RETURN = r"""
name:
  description: The instance name.
  returned: always
  type: str
  sample: postfix-inbound
config_dir:
  description: The instance's configuration directory.
  returned: always
  type: str
  sample: /etc/postfix-inbound
created:
  description: Whether the instance was (or would be) created.
  returned: always
  type: bool
removed:
  description: Whether the instance was (or would be) removed.
  returned: always
  type: bool
prepared:
  description: What was done to make multi-instance support usable (minimal primary main.cf, postmulti init).
  returned: always
  type: list
  elements: str
  sample: ["postmulti -e init"]
resolver_changed:
  description: Whether the chroot's resolver file (O(dns_servers)) was (or would be) written.
  returned: when state=present
  type: bool
removed_directories:
  description: Directories of a removed instance that postmulti left behind and the module deleted.
  returned: when state=absent and the instance was removed
  type: list
  elements: str
  sample: ["/etc/postfix-old", "/var/lib/postfix-old", "/var/spool/postfix-old"]
dropped_messages:
  description: Queue files deleted because O(queued=drop) (0 when nothing was queued).
  returned: when state=absent and the instance existed
  type: int
  sample: 0
enabled:
  description: Whether the instance is enabled after the run (secondary instances; always true for the primary).
  returned: when state=present
  type: bool
running:
  description: Whether the instance's master process runs after the run (in check mode, would run).
  returned: always
  type: bool
service_action:
  description: What was done to the process, if anything.
  returned: always
  type: str
  sample: started
  choices: [started, stopped, reloaded, restarted]
main_cf:
  description: Names of the C(main.cf) parameters that were added, changed and removed.
  returned: always
  type: dict
  sample: {"added": ["smtp_bind_address"], "changed": ["myhostname"], "removed": []}
master_cf:
  description: C(master.cf) services (C(service/type)) that were added, changed and removed.
  returned: always
  type: dict
  sample: {"added": ["submission/inet"], "changed": [], "removed": ["smtps/inet"]}
maps:
  description: Table files by what happened to them (C(written), C(postmapped), C(removed), C(attributes)).
  returned: always
  type: dict
  sample: {"written": ["/etc/postfix-inbound/transport"], "postmapped": ["/etc/postfix-inbound/transport"], "removed": [], "attributes": []}
reload_needed:
  description:
    - The running instance uses an older configuration and must be reloaded. False when it does not run, or
      when this run started, reloaded or restarted it.
  returned: always
  type: bool
restart_needed:
  description:
    - The running instance must be stopped and started (a parameter such as C(inet_interfaces) changed).
      False when it does not run, or when this run started or restarted it.
  returned: always
  type: bool
restart_parameters:
  description: The changed parameters that require the restart (empty when RV(restart_needed) is false).
  returned: always
  type: list
  elements: str
validated:
  description: Whether a staged configuration went through validation in this run.
  returned: always
  type: bool
problems:
  description: Every reason why validation refused the new configuration.
  returned: when validation failed
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailrelay.smtp.plugins.module_utils import _postmulti as postmulti
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_args import POSTFIX_ERRORS, failure, secret_map_values
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_host import LocalHost
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_instance import instance_argument_spec, run


def main():
    module = AnsibleModule(argument_spec=instance_argument_spec(), supports_check_mode=True)
    for value in secret_map_values(module.params['maps']):
        module.no_log_values.add(value)

    host = LocalHost(module.run_command)
    try:
        postmulti.check_name(module.params['name'])
        result = run(module.params, host, module.check_mode, module._diff)
    except POSTFIX_ERRORS as exc:
        module.fail_json(name=module.params['name'], **failure(exc, module.params['name']))

    for warning in result.pop('warnings', []):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
