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
      - "An item may also have C(dovecot_sasl): the authentication-only Dovecot instance (named after the Postfix
        instance) whose socket the instance's C(smtpd_sasl_path) names, with the options of
        M(mailrelay.smtp.dovecot_sasl) C(users) (list of C(login)/C(password)), C(hash_iterations), C(socket_path),
        C(socket_user), C(socket_group) and C(config_dir), same meaning and defaults."
      - The Dovecot instances are part of the same transaction as the Postfix instances - checked first (users,
        hashes, the configuration with C(doveconf -n)), applied before any Postfix instance starts (smtpd needs
        the socket), and put back byte for byte (Dovecot reloaded) when any Postfix instance of the call is refused
        or fails its health check. A password change never goes live with a refused Postfix change.
      - The health check of every Postfix instance with C(smtpd_sasl_type = dovecot) proves that the socket of its
        C(smtpd_sasl_path) answers Dovecot's authentication handshake (a reload or restart by a handler too).
      - "An item may also have C(certificate_entries): a list of C({map, files, value}) - the SHA-256 fingerprint of
        the first certificate of each PEM file of C(files), read on the managed host, becomes a C(FINGERPRINT value)
        entry of the instance's table C(map) (for example C(relay_clientcerts)). A hub thus trusts the
        certificates of submission servers on its own host without a separate read."
      - Values of tables marked C(secret) are never shown, in any instance.
    type: list
    elements: dict
    required: true
  defaults:
    description:
      - "Options every instance takes unless it sets them itself, for example C({service_state: stopped})."
    type: dict
    default: {}
  record_path:
    description:
      - A file (JSON) where this call records the names of the secondary instances of O(instances) - the instances
        that something such as C(playbooks/site.yml) deployed for one inventory host.
      - An instance named in the record but no longer in O(instances) retires - it is stopped and removed from
        postmulti (see M(mailrelay.smtp.postfix_instance) C(state=absent)), refused while mail is queued unless
        O(retire_queued) says otherwise; the retirement is planned (and refused) in check mode too, before
        anything changes. Then the record is rewritten when it changed.
      - Reading and writing the record here keeps a no-op run of a host to one module execution.
    type: path
  retire_queued:
    description: What to do with mail still queued in an instance that retires - V(refuse), V(flush) or V(drop).
    type: str
    choices: [refuse, flush, drop]
    default: refuse
  reload_changed:
    description:
      - Reload (or restart, when a start-up parameter changed) in this call every running instance whose
        configuration this call changes, and prove it serves; otherwise its name is only returned in
        RV(reload_needed) for a handler.
      - With it, a change that does not serve after the reload is put back together with everything else this
        call changed (other instances, Dovecot users); the C(mailrelay.smtp.postfix) role sets it.
    type: bool
    default: false
  packages:
    description:
      - Debian packages the instances need (checked with C(dpkg-query); Debian and Ubuntu only).
      - When one of them is not installed, the module changes nothing and returns RV(missing_packages), so that the
        caller installs them and calls again; the C(mailrelay.smtp.postfix) role does this. Checking here rather than
        in a separate task keeps a no-op run of a host to one module call.
    type: list
    elements: str
    default: []
  opendkim:
    description:
      - An OpenDKIM signer set beside the instances (a DKIM-signing hub's) to check together with them, with the
        options of M(mailrelay.smtp.opendkim) for O(mailrelay.smtp.opendkim#module:state=present) - C(name),
        C(keys), C(domains), C(internal_hosts), C(address), C(port), C(config_dir) and C(prune), same meaning and
        defaults.
      - Only planned, never changed, and so only in check mode (refused otherwise); M(mailrelay.smtp.opendkim)
        applies it. What it would change is returned in RV(opendkim) and counts in C(changed) and
        RV(plan_changed), so that a preflight of a DKIM-signing hub that changes nothing stays one module call.
      - Without OpenDKIM installed (C(/usr/sbin/opendkim)), RV(opendkim) reports C(missing_packages) and a change.
    type: dict
seealso:
  - module: mailrelay.smtp.opendkim
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

- name: A submission instance and its Dovecot users, applied (or put back) together
  mailrelay.smtp.postfix_instances:
    instances:
      - name: postfix-submission
        main_cf:
          inet_interfaces: 192.0.2.11
          myhostname: smtp.example.org
          smtpd_sasl_auth_enable: true
          smtpd_sasl_type: dovecot
          smtpd_sasl_path: /run/dovecot-postfix-submission/auth-postfix
        dovecot_sasl:
          users:
            - login: alice@example.org
              password: "{{ vault_alice_password }}"

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
retired:
  description: Instances named in O(record_path) but not in O(instances), which this call retired (or would retire).
  returned: always
  type: list
  elements: dict
record_changed:
  description: Whether O(record_path) was (or would be) rewritten.
  returned: always
  type: bool
dovecot_sasl:
  description:
    - One result per item with C(dovecot_sasl), with the return values of M(mailrelay.smtp.dovecot_sasl)
      (C(name), C(changed), C(users_added), C(users_changed), C(users_rehashed), C(users_removed), C(action)...).
  returned: always
  type: list
  elements: dict
plan_changed:
  description:
    - Whether the call changed (in check mode, would change) anything - the same as C(changed), kept for a task
      that overrides C(changed) with C(changed_when), as the preflight of C(playbooks/site.yml) does (a check
      that changes nothing must not count as a change in the play recap).
  returned: always
  type: bool
opendkim:
  description:
    - What bringing O(opendkim) to its options would change - C(changed), C(action) (C(none), C(started),
      C(reloaded), C(stopped)), C(generated) and C(removed) key selectors, C(missing_packages) - as
      M(mailrelay.smtp.opendkim) in check mode reports it.
  returned: when O(opendkim) is given
  type: dict
  sample: {changed: false, action: none, generated: [], removed: [], missing_packages: []}
missing_packages:
  description: Packages of O(packages) that are not installed; when not empty, nothing else was done.
  returned: always
  type: list
  elements: str
  sample: [postfix-pcre]
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dovecot_sasl as sasl
from ansible_collections.mailrelay.smtp.plugins.module_utils import _postfix_engine as engine
from ansible_collections.mailrelay.smtp.plugins.module_utils import _postfix_host_plan as host_plan
from ansible_collections.mailrelay.smtp.plugins.module_utils import _postmulti as postmulti
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_args import POSTFIX_ERRORS, failure, secret_map_values
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_host import LocalHost
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_instance import instance_argument_spec, run


DOVECOT_SASL_SPEC = dict(
    users=dict(type='list', elements='dict', default=[], options=dict(
        login=dict(type='str', required=True),
        password=dict(type='str', required=True, no_log=True),
    )),
    hash_iterations=dict(type='int', default=sasl.DEFAULT_ROUNDS),
    socket_path=dict(type='path'),
    socket_user=dict(type='str', default='postfix'),
    socket_group=dict(type='str', default='postfix'),
    config_dir=dict(type='path', default='/etc/dovecot/mailrelay'),
)


def _problems(validation):
    """The validator's messages; an unknown option is called one (Ansible's own words are only
    "colour. Supported parameters include: ...")."""
    return ['unsupported parameters: %s' % error.msg if isinstance(error, UnsupportedError) else error.msg
            for error in validation.errors.errors]


def _validated_dovecot(module, index, name, options):
    """The dovecot_sasl options of instances[index] as M(dovecot_sasl) takes them, or fail naming the field."""
    if not isinstance(options, dict):
        module.fail_json(msg='instances[%d].dovecot_sasl (%s): must be a dictionary, not %s' % (index, name, type(options).__name__))
    validation = ArgumentSpecValidator(DOVECOT_SASL_SPEC).validate(options)
    if validation.error_messages:
        module.fail_json(msg='instances[%d].dovecot_sasl (%s): %s' % (index, name, '; '.join(_problems(validation))))
    params = dict(validation.validated_parameters, name=name, state='present', service_state='started')
    problems = sasl.validate(params)
    if problems:
        module.fail_json(msg='; '.join('instances[%d].dovecot_sasl.%s' % (index, problem) for problem in problems))
    return params


def _validated_instances(module):
    validator = ArgumentSpecValidator(instance_argument_spec())
    instances = []
    dovecots = []
    names = set()
    for index, item in enumerate(module.params['instances']):
        item = dict(item)
        dovecot = item.pop('dovecot_sasl', None)
        certificate_entries = item.pop('certificate_entries', None)
        if certificate_entries:
            item['maps'] = _maps_with_certificates(module, index, item, certificate_entries)
        validation = validator.validate(dict(module.params['defaults'], **item))
        if validation.error_messages:
            module.fail_json(msg='instances[%d] (%s): %s' % (index, item.get('name', '?'), '; '.join(_problems(validation))))
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
        if dovecot is not None:
            if params['state'] == 'absent':
                module.fail_json(msg='instances[%d].dovecot_sasl (%s): not with state=absent' % (index, params['name']))
            dovecots.append(_validated_dovecot(module, index, params['name'], dovecot))
    return instances, dovecots


def _maps_with_certificates(module, index, item, certificate_entries):
    """The item's maps with the fingerprint entries of its certificate files (read on this host)."""
    try:
        return host_plan.maps_with_certificates(item.get('maps'), certificate_entries, LocalHost.read, host_plan.certificate_fingerprint,
                                                where='instances[%d].certificate_entries' % index)
    except host_plan.PlanError as exc:
        module.fail_json(msg='%s; nothing was changed' % exc)


class _Transaction:
    """What this call changed on the host, so that a failure puts all of it back (one transaction per host)."""

    def __init__(self, postfix_host, sasl_host):
        self.postfix_host = postfix_host
        self.sasl_host = sasl_host
        self.postfix_done = []    # (params, result) of converged Postfix instances
        self.dovecot_saved = []   # snapshots of Dovecot instances taken before their change

    def put_back(self):
        """Undo everything, newest first; return (what was put back, what failed)."""
        put_back, failed = _put_back(self.postfix_host, self.postfix_done)
        for saved in reversed(self.dovecot_saved):
            try:
                done = sasl.restore(self.sasl_host, saved)
                put_back.append('dovecot-%s%s' % (saved['name'], ' (%s)' % '; '.join(done) if done else ''))
            except Exception as exc:  # pylint: disable=broad-except
                failed.append('dovecot-%s: %s' % (saved['name'], exc))
        return put_back, failed

    def fail(self, module, name, exc, plain=False):
        """Put back what this task changed, then fail with ``exc`` and what was put back."""
        unchanged = 'no instance was changed'
        rolled_back = False
        if self.postfix_done or self.dovecot_saved:
            put_back, failed = self.put_back()
            rolled_back = True
            unchanged = 'what this task had changed before was put back (%s)' % ', '.join(put_back)
            if failed:
                unchanged = 'ROLLBACK FAILED for %s; %s' % ('; '.join(failed), unchanged)
        fields = dict(msg='%s: %s; %s' % (name, exc, unchanged)) if plain else failure(exc, name, unchanged=unchanged)
        if rolled_back and unchanged not in fields['msg']:
            # failure() words some errors without the caller's summary; the rest of the transaction must show.
            fields['msg'] = '%s Also: %s.' % (fields['msg'], unchanged)
        module.fail_json(name=name, **fields)


def _converge_one(module, host, params, check_mode, transaction=None):
    try:
        return run(params, host, check_mode, module._diff)
    except POSTFIX_ERRORS as exc:
        (transaction or _Transaction(host, None)).fail(module, params['name'], exc)


def _converge_dovecot(module, host, params, check_mode, transaction=None, passwords=None):
    try:
        return sasl.converge(host, params, check_mode=check_mode, passwords=passwords)
    except (sasl.SaslError, OSError) as exc:
        (transaction or _Transaction(None, host)).fail(module, 'dovecot-%s' % params['name'], exc, plain=True)


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


def _read_record(module, host, instances):
    """(current text, new text, params of the instances that retire) of O(record_path); all empty without it."""
    path = module.params['record_path']
    if not path:
        return None, None, []
    text = host.read(path)
    present = [params['name'] for params in instances if params['state'] == 'present']
    try:
        after, names = host_plan.record_plan(text, present, postmulti.is_primary)
    except host_plan.PlanError as exc:
        module.fail_json(msg='%s (%s); nothing was changed' % (exc, path))
    validator = ArgumentSpecValidator(instance_argument_spec())
    retiring = [validator.validate(dict(name=name, state='absent', queued=module.params['retire_queued'])).validated_parameters
                for name in names]
    return text, after, retiring


def _write_record(module, text):
    path = module.params['record_path']
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    handle, staged = tempfile.mkstemp(prefix='.mailrelay-', dir=directory)
    with os.fdopen(handle, 'w') as stream:
        stream.write(text)
    os.chmod(staged, 0o644)
    module.atomic_move(staged, path)


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


def _plan_opendkim(module):
    """What mailrelay.smtp.opendkim would change for O(opendkim), changing nothing; None without it."""
    if module.params['opendkim'] is None:
        return None
    # Imported here: only a DKIM-signing hub's preflight needs them, and a no-op run pays for every import.
    from ansible_collections.mailrelay.smtp.plugins.module_utils import _dkim as dkim  # pylint: disable=import-outside-toplevel
    from ansible_collections.mailrelay.smtp.plugins.module_utils import _dkim_host as dkim_host  # pylint: disable=import-outside-toplevel
    validated = ArgumentSpecValidator(dkim_host.signer_argument_spec()).validate(module.params['opendkim'])
    if validated.error_messages:
        module.fail_json(msg='opendkim: %s' % '; '.join(_problems(validated)))
    params = validated.validated_parameters
    if params['keys'] is None:
        module.fail_json(msg='opendkim: keys is required')
    if not module.check_mode:
        module.fail_json(msg='opendkim: only checked, in check mode; mailrelay.smtp.opendkim applies it')
    name = params['name']
    try:
        where, domains, keys = dkim_host.signer_set(params)
    except dkim_host.InputError as exc:
        if exc.problems:
            module.fail_json(msg='opendkim: %s' % exc, problems=exc.problems)
        module.fail_json(msg='opendkim.%s' % exc)
    if not os.path.exists(dkim_host.OPENDKIM):
        return dict(changed=True, action='none', generated=[], removed=[], missing_packages=['opendkim'], diff=[])
    signers = {algorithm: dkim_host.SignerProcess(module.run_command, name, dkim.signer_paths(where, name, algorithm))
               for algorithm in dkim.ALGORITHMS}
    planned = dkim_host.plan(params, where, keys, domains, signers)
    return dict(changed=planned['changed'], action=planned['action'], generated=[key['key_selector'] for key in planned['generate']],
                removed=[os.path.basename(path)[:-len('.private')] for path in planned['stale']], missing_packages=[],
                diff=planned['diff'] if planned['changed'] else [])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            instances=dict(type='list', elements='dict', required=True),
            defaults=dict(type='dict', default={}),
            packages=dict(type='list', elements='str', default=[]),
            reload_changed=dict(type='bool', default=False),
            record_path=dict(type='path'),
            retire_queued=dict(type='str', choices=['refuse', 'flush', 'drop'], default='refuse'),
            opendkim=dict(type='dict'),
        ),
        supports_check_mode=True,
    )
    # Before any validation, so that no error message can echo a secret.
    for item in module.params['instances']:
        for value in secret_map_values(item.get('maps')):
            module.no_log_values.add(value)
        dovecot = item.get('dovecot_sasl')
        for user in (dovecot.get('users') or []) if isinstance(dovecot, dict) else []:
            if isinstance(user, dict) and isinstance(user.get('password'), str) and user['password']:
                module.no_log_values.add(user['password'])
    instances, dovecots = _validated_instances(module)
    sasl_host = sasl.LocalHost(module.run_command, lambda src, dest: module.atomic_move(src, dest, keep_dest_attrs=False))
    # The users' stored hashes are checked in a thread from here on, while everything else is planned.
    passwords = sasl.check_stored_passwords(sasl_host, dovecots)
    signer = _plan_opendkim(module)
    missing = _missing_packages(module, module.params['packages'])
    if missing:
        module.exit_json(changed=False, plan_changed=False, instances=[], dovecot_sasl=[], reload_needed=[], restart_needed=[],
                         retired=[], record_changed=False, missing_packages=missing)
    host = LocalHost(module.run_command)

    # Pass 1 changes nothing: every instance is planned (and a changed
    # configuration validated), and every Dovecot instance's users hashed and
    # compared, before anything is touched.
    planned = [_converge_one(module, host, params, check_mode=True) for params in instances]
    sasl_planned = [_converge_dovecot(module, sasl_host, params, check_mode=True, passwords=passwords) for params in dovecots]
    record_text, record_after, retiring = _read_record(module, host, instances)
    retired = [_converge_one(module, host, params, check_mode=True) for params in retiring]
    results = planned
    sasl_results = sasl_planned
    if module.check_mode and module.params['reload_changed']:
        # What the real call would do: reload (or restart) in the call, leaving nothing for a handler.
        for params, result in zip(instances, results):
            if result.get('reload_needed') and params['service_state'] == 'started':
                action = 'restarted' if result.get('restart_needed') else 'reloaded'
                result.update(service_action=action, reload_needed=False, restart_needed=False)
                if module._diff:
                    result.setdefault('diff', []).append({'before_header': 'service', 'after_header': 'service',
                                                          'before': '%s: running\n' % result['name'],
                                                          'after': '%s: running (%s)\n' % (result['name'], action)})
    if not module.check_mode:
        transaction = _Transaction(host, sasl_host)
        # Dovecot first: smtpd of a new or restarted submission instance needs
        # the socket; its files are saved so that a Postfix failure puts them back.
        sasl_results = []
        for params, plan in zip(dovecots, sasl_planned):
            if not plan['changed']:
                sasl_results.append(plan)
                continue
            transaction.dovecot_saved.append(sasl.snapshot(sasl_host, params))
            sasl_results.append(_converge_dovecot(module, sasl_host, params, check_mode=False, transaction=transaction, passwords=passwords))
        results = []
        for params, plan in zip(instances, planned):
            if not plan['changed']:
                results.append(plan)
                continue
            if module.params['reload_changed'] and params['service_state'] == 'started' and plan.get('reload_needed'):
                # Reloaded (or restarted) here, so that its health check is part of this transaction.
                params = dict(params, service_state='reloaded')
            result = _converge_one(module, host, params, check_mode=False, transaction=transaction)
            transaction.postfix_done.append((params, result))
            results.append(result)
        # After the new instances serve: an instance that retires cannot be put back.
        retired = [_converge_one(module, host, params, check_mode=False) for params in retiring]
        if record_after != record_text:
            _write_record(module, record_after)

    diff = []
    for result in results:
        for warning in result.pop('warnings', []):
            module.warn('%s: %s' % (result['name'], warning))
        for item in result.pop('diff', []):
            diff.append(dict(item, before_header='%s: %s' % (result['name'], item.get('before_header', '')),
                             after_header='%s: %s' % (result['name'], item.get('after_header', ''))))
    for params, result in zip(dovecots, sasl_results):
        result['name'] = params['name']
        items = result.pop('diff', [])
        if result['changed']:
            diff.extend(dict(item, before_header='dovecot-%s: %s' % (params['name'], item.get('before_header', '')),
                             after_header='dovecot-%s: %s' % (params['name'], item.get('after_header', '')))
                        for item in (items if isinstance(items, list) else [items]))
    if signer is not None:
        diff.extend(dict(item, before_header='opendkim-%s: %s' % (module.params['opendkim']['name'], item['before_header']),
                         after_header='opendkim-%s: %s' % (module.params['opendkim']['name'], item['after_header']))
                    for item in signer.pop('diff'))
    changed = (any(result['changed'] for result in results + sasl_results + retired) or record_after != record_text
               or bool(signer and signer['changed']))
    output = dict(
        changed=changed,
        plan_changed=changed,
        retired=retired,
        record_changed=record_after != record_text,
        instances=results,
        dovecot_sasl=sasl_results,
        reload_needed=[result['name'] for result in results if result.get('reload_needed')],
        restart_needed=[result['name'] for result in results if result.get('restart_needed')],
        missing_packages=[],
    )
    if signer is not None:
        output['opendkim'] = signer
    if module._diff and diff:
        output['diff'] = diff
    module.exit_json(**output)


if __name__ == '__main__':
    main()
