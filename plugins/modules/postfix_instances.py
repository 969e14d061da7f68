#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_instances
short_description: Converge every Postfix instance of a host in one call
version_added: 0.1.0
description:
  - Does for a list of instances what M(mailrelay.smtp.postfix_instance) does for one - existence, configuration
    (staged and validated before it goes live) and service state - in a single module call, so that a host
    that serves several jobs (submission, inbound relay, hub) costs one round trip.
  - Every instance is first checked without changing anything; when the configuration of any instance is
    refused, the task fails before any instance is touched. Then the instances that need a change are
    converged in list order; when one of them fails then, the instances this task changed before it are
    put back (their previous files, and a reload where this task had reloaded them), so that the host's
    instances change together or not at all.
  - The C(mailrelay.smtp.postfix) role uses this module.
author: Mailrelay Maintainers (@mailrelay)
attributes:
  check_mode:
    support: full
    description: Reports, per instance, exactly what a real run would change.
  diff_mode:
    support: full
    description: The diff of every instance, headed by its name; values of secret tables are masked.
  platform:
    support: full
    platforms: posix
    description: Runs on the managed host; Debian and Ubuntu are tested.
options:
  instances:
    description:
      - The instances. Each item takes the options of M(mailrelay.smtp.postfix_instance) - C(name) (required),
        C(state), C(queued), C(config_dir), C(group), C(enabled), C(service_state), C(main_cf), C(main_cf_mode),
        C(master_cf), C(master_cf_mode), C(maps), C(validate), C(allow_unused_parameters) and C(dns_servers) - with the same
        meaning and defaults.
      - Values of tables marked C(secret) are never shown, in any instance.
    type: list
    elements: dict
    required: true
  defaults:
    description:
      - "Options every instance takes unless it sets them itself, for example C({service_state: stopped})."
    type: dict
    default: {}
  packages:
    description:
      - Debian packages the instances need (checked with C(dpkg-query); Debian and Ubuntu only).
      - When one of them is not installed, the module changes nothing and returns RV(missing_packages), so that the
        caller installs them and calls again; the C(mailrelay.smtp.postfix) role does this. Checking here rather than
        in a separate task keeps a no-op run of a host to one module call.
    type: list
    elements: str
    default: []
seealso:
  - module: mailrelay.smtp.postfix_instance
  - module: mailrelay.smtp.postfix_config
"""

EXAMPLES = r"""
- name: Inbound relay and hub on one host, in one call
  mailrelay.smtp.postfix_instances:
    instances:
      - name: postfix-hub
        main_cf:
          inet_interfaces: 192.0.2.13
          myhostname: hub.example.org
          smtp_bind_address: 192.0.2.13
          mynetworks: 192.0.2.11/32
      - name: postfix-inbound
        main_cf:
          inet_interfaces: 192.0.2.12
          myhostname: mx.example.org
          smtp_bind_address: 192.0.2.12
          relay_domains: example.org
          relay_transport: relay:[192.0.2.13]:25
  register: postfix

- name: Reload what needs it
  mailrelay.smtp.postfix_instance:
    name: "{{ item }}"
    service_state: reloaded
  loop: "{{ postfix.reload_needed }}"
"""

RETURN = r"""
instances:
  description:
    - One result per instance, in the order given, with the return values of M(mailrelay.smtp.postfix_instance)
      (C(name), C(changed), C(created), C(main_cf), C(master_cf), C(maps), C(reload_needed), C(restart_needed)...).
  returned: always
  type: list
  elements: dict
reload_needed:
  description: Names of the running instances that use an older configuration and must be reloaded.
  returned: always
  type: list
  elements: str
  sample: [postfix-hub]
restart_needed:
  description: Names of the running instances that must be restarted (a start-up parameter changed).
  returned: always
  type: list
  elements: str
  sample: []
missing_packages:
  description: Packages of O(packages) that are not installed; when not empty, nothing else was done.
  returned: always
  type: list
  elements: str
  sample: [postfix-pcre]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.mailrelay.smtp.plugins.module_utils import _postfix_engine as engine
from ansible_collections.mailrelay.smtp.plugins.module_utils import _postmulti as postmulti
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_args import POSTFIX_ERRORS, failure, secret_map_values
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_host import LocalHost
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_instance import instance_argument_spec, run


def _validated_instances(module):
    validator = ArgumentSpecValidator(instance_argument_spec())
    instances = []
    names = set()
    for index, item in enumerate(module.params['instances']):
        validation = validator.validate(dict(module.params['defaults'], **item))
        if validation.error_messages:
            module.fail_json(msg='instances[%d] (%s): %s' % (index, item.get('name', '?'), '; '.join(validation.error_messages)))
        params = validation.validated_parameters
        try:
            postmulti.check_name(params['name'])
        except POSTFIX_ERRORS as exc:
            module.fail_json(msg='instances[%d]: %s' % (index, exc))
        try:
            # The values themselves (a line break, a wrong type...): every item is checked before any instance
            # is looked at, so one bad item stops the task before anything changes.
            engine.ConfigRequest.from_params(params, config_dir=params['config_dir'] or '/etc/%s' % params['name'])
        except POSTFIX_ERRORS as exc:
            module.fail_json(msg='instances[%d] (%s): %s' % (index, params['name'], exc))
        if params['name'] in names:
            module.fail_json(msg='instances[%d]: %s is listed twice' % (index, params['name']))
        names.add(params['name'])
        instances.append(params)
    return instances


def _converge_one(module, host, params, check_mode, done=()):
    try:
        return run(params, host, check_mode, module._diff)
    except POSTFIX_ERRORS as exc:
        unchanged = 'no instance was changed'
        if done:
            put_back, failed = _put_back(host, done)
            unchanged = 'the instances this task had changed before it were put back (%s)' % ', '.join(put_back)
            if failed:
                unchanged = 'ROLLBACK FAILED for %s; %s' % ('; '.join(failed), unchanged)
        module.fail_json(name=params['name'], **failure(exc, params['name'], unchanged=unchanged))


def _put_back(host, done):
    """Undo the instances converged earlier in this task (one transaction per host)."""
    put_back = []
    failed = []
    for params, result in reversed(done):
        name = params['name']
        try:
            instance = postmulti.find_instance(host, name, params['config_dir'])
            if result.get('created'):
                if postmulti.running_pid(host, instance):
                    postmulti.stop(host, instance)
                postmulti.destroy_instance(host, instance)
            elif engine.has_previous(host, instance.config_dir):
                engine.restore_previous(host, instance.config_dir)
                instance = postmulti.find_instance(host, name, params['config_dir'])
                if result.get('service_action') and postmulti.running_pid(host, instance):
                    postmulti.reload(host, instance)
            put_back.append(name)
        except Exception as exc:  # pylint: disable=broad-except
            failed.append('%s: %s' % (name, exc))
    return put_back, failed


def _missing_packages(module, packages):
    """Packages of ``packages`` that dpkg does not report as installed ("ii")."""
    if not packages:
        return []
    dpkg_query = module.get_bin_path('dpkg-query')
    if not dpkg_query:
        module.fail_json(msg='packages: dpkg-query not found; package checks work on Debian and Ubuntu only (leave packages empty elsewhere)')
    # rc 1 only says that some package is unknown to dpkg; the listing tells which.
    dummy, out, dummy2 = module.run_command([dpkg_query, '--show', '--showformat=${db:Status-Abbrev} ${Package}\\n'] + list(packages))
    installed = {line.split()[-1].split(':')[0] for line in out.splitlines() if line.startswith('ii ')}
    return [package for package in packages if package not in installed]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            instances=dict(type='list', elements='dict', required=True),
            defaults=dict(type='dict', default={}),
            packages=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    # Before any validation, so that no error message can echo a secret.
    for item in module.params['instances']:
        for value in secret_map_values(item.get('maps')):
            module.no_log_values.add(value)
    instances = _validated_instances(module)
    missing = _missing_packages(module, module.params['packages'])
    if missing:
        module.exit_json(changed=False, instances=[], reload_needed=[], restart_needed=[], missing_packages=missing)
    host = LocalHost(module.run_command)

    # Pass 1 changes nothing: every instance is planned (and a changed
    # configuration validated) before any instance is touched.
    planned = [_converge_one(module, host, params, check_mode=True) for params in instances]
    results = planned
    if not module.check_mode:
        results = []
        done = []
        for params, plan in zip(instances, planned):
            if not plan['changed']:
                results.append(plan)
                continue
            result = _converge_one(module, host, params, check_mode=False, done=done)
            done.append((params, result))
            results.append(result)

    diff = []
    for result in results:
        for warning in result.pop('warnings', []):
            module.warn('%s: %s' % (result['name'], warning))
        for item in result.pop('diff', []):
            diff.append(dict(item, before_header='%s: %s' % (result['name'], item.get('before_header', '')),
                             after_header='%s: %s' % (result['name'], item.get('after_header', ''))))
    output = dict(
        changed=any(result['changed'] for result in results),
        instances=results,
        reload_needed=[result['name'] for result in results if result.get('reload_needed')],
        restart_needed=[result['name'] for result in results if result.get('restart_needed')],
        missing_packages=[],
    )
    if module._diff and diff:
        output['diff'] = diff
    module.exit_json(**output)


if __name__ == '__main__':
    main()
