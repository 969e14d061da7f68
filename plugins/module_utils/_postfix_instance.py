# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One Postfix instance: exists or not, its configuration, its process.

Shared by the postfix_instance module (one instance per call) and the
postfix_instances module (all instances of a host in one call). ``params``
are the validated options of one instance (``instance_argument_spec``).

Private to the collection.
"""

from __future__ import annotations

import posixpath

from ansible_collections.mailrelay.smtp.plugins.module_utils import _postmulti as postmulti
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_args import config_argument_spec
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import MainCf, PostfixConfigError
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_engine import (
    ConfigRequest,
    ValidationFailed,
    converge,
)


def instance_argument_spec():
    """Options of one instance: lifecycle, service state and configuration."""
    spec = config_argument_spec()
    spec.update(
        name=dict(type='str', required=True),
        config_dir=dict(type='path'),
        group=dict(type='str'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        enabled=dict(type='bool'),
        service_state=dict(type='str', default='started',
                           choices=['started', 'stopped', 'reloaded', 'restarted', 'unmanaged']),
    )
    return spec


def _presence(instance, present, enabled=None):
    if not present:
        return '%s: absent\n' % instance.name
    text = '%s: present (%s)' % (instance.name, instance.config_dir)
    if enabled is not None and not instance.primary:
        text += ', %s' % ('enabled' if enabled else 'disabled')
    return text + '\n'


def _empty_config_result(config_dir):
    return {
        'config_dir': config_dir,
        'main_cf': {'added': [], 'changed': [], 'removed': []},
        'master_cf': {'added': [], 'changed': [], 'removed': []},
        'maps': {'written': [], 'postmapped': [], 'removed': [], 'attributes': []},
        'reload_needed': False,
        'restart_needed': False,
        'restart_parameters': [],
        'validated': False,
        'warnings': [],
    }


def instance_main_cf(params, instance, created):
    """Parameters the instance options own in its main.cf (group, enabled)."""
    extra = {}
    if instance.primary:
        return extra
    if params['group'] is not None:
        extra['multi_instance_group'] = params['group'] or None
    enabled = params['enabled']
    if enabled is None and created:
        enabled = True
    if enabled is not None:
        extra['multi_instance_enable'] = 'yes' if enabled else 'no'
    if created and 'master_service_disable' not in (params['main_cf'] or {}):
        # postmulti parks a new instance with "master_service_disable = inet";
        # this call configures it, so it may listen as soon as it starts.
        extra['master_service_disable'] = None
    return extra


def present(params, host, check_mode=False, diff=False, instance=None):
    """``instance``: what find_instance has just said about ``params['name']`` (None: look it up here)."""
    name = params['name']
    result = {'name': name, 'created': False, 'removed': False, 'prepared': [], 'service_action': None}
    if instance is None:
        instance = postmulti.find_instance(host, name, params['config_dir'])
    diff_items = []
    if not instance.exists and not instance.primary:
        result['created'] = True
        diff_items.append({'before_header': 'instance', 'after_header': 'instance',
                           'before': _presence(instance, False), 'after': _presence(instance, True, params['enabled'] is not False)})
        if check_mode:
            result.update(_empty_config_result(instance.config_dir))
            result.update(changed=True, enabled=params['enabled'] is not False,
                          running=params['service_state'] in ('started', 'reloaded', 'restarted'),
                          service_action='started' if params['service_state'] in ('started', 'reloaded', 'restarted') else None)
            if diff:
                result['diff'] = diff_items
            return result
        result['prepared'] = postmulti.prepare_multi_instance(host)
        postmulti.create_instance(host, name, params['group'], params['config_dir'])
        instance = postmulti.find_instance(host, name, params['config_dir'])
        if not instance.exists:
            raise postmulti.InstanceError('postmulti created %s, but it is not listed in multi_instance_directories' % name)

    before = instance
    request = ConfigRequest.from_params(params, config_dir=instance.config_dir,
                                        extra_main_cf=instance_main_cf(params, instance, result['created']))

    def no_listen_clash(plan):
        main_text = plan.main_after if plan.main_after is not None else plan.main_before
        master_text = plan.master_after if plan.master_after is not None else plan.master_before
        problems = postmulti.listen_clashes(host, name, main_text, master_text)
        if problems:
            raise ValidationFailed(problems)

    try:
        # find_instance has read main.cf already; the engine need not read it again.
        plan, config_result = converge(host, request, check_mode=check_mode, want_diff=diff,
                                       main_text=instance.main.text if instance.exists else None,
                                       before_commit=no_listen_clash if request.validate else None)
    except (ValidationFailed, PostfixConfigError):
        if result['created']:
            # The configuration never went live: do not leave a half-made
            # instance behind either.
            postmulti.destroy_instance(host, instance)
        raise
    result.update(config_result)
    diff_items.extend(config_result.pop('diff', []))
    after = postmulti.Instance(name, instance.config_dir, MainCf(plan.main_after or ''), True) \
        if plan.main_after is not None else instance
    result['enabled'] = after.enabled
    if not result['created'] and not instance.primary and before.enabled != after.enabled:
        diff_items.append({'before_header': 'instance', 'after_header': 'instance',
                           'before': _presence(before, True, before.enabled), 'after': _presence(after, True, after.enabled)})

    service_state = params['service_state']
    running = postmulti.running_pid(host, before) is not None
    if running:
        # A restart that an earlier run asked for and that never happened.
        for parameter in postmulti.pending_restart(host, before, after):
            if parameter not in result['restart_parameters']:
                result['restart_parameters'].append(parameter)
        result['restart_needed'] = bool(result['restart_parameters'])
        result['reload_needed'] = result['reload_needed'] or result['restart_needed']
    action = None
    if service_state == 'started' and not running:
        action = 'started'
    elif service_state == 'stopped' and running:
        action = 'stopped'
    elif service_state == 'reloaded':
        action = ('restarted' if result['restart_needed'] else 'reloaded') if running else 'started'
    elif service_state == 'restarted':
        action = 'restarted' if running else 'started'

    if action in ('started', 'restarted') and not plan.changed and request.validate:
        no_listen_clash(plan)
    if action and not check_mode:
        if action in ('stopped', 'restarted'):
            postmulti.stop(host, before)
        if action in ('started', 'restarted'):
            postmulti.start(host, after)
        if action == 'reloaded':
            postmulti.reload(host, after)
    if action or not running:
        # Started, stopped, reloaded or restarted by this run, or not running:
        # no process is left on an older configuration.
        result['reload_needed'] = False
        result['restart_needed'] = False
        result['restart_parameters'] = []
    if action:
        result['service_action'] = action
        diff_items.append({'before_header': 'service', 'after_header': 'service',
                           'before': '%s: %s\n' % (name, 'running' if running else 'stopped'),
                           'after': '%s: %s\n' % (name, 'stopped' if action == 'stopped' else 'running (%s)' % action)})
    result['running'] = (action != 'stopped') if action else running
    result['changed'] = bool(result['created'] or result['changed'] or action)
    if diff and diff_items:
        result['diff'] = diff_items
    return result


def absent(params, host, check_mode=False, diff=False, instance=None):
    """``instance``: as for present()."""
    name = params['name']
    if postmulti.is_primary(name):
        raise PostfixConfigError('name', 'the primary instance cannot be removed; stop it with service_state=stopped')
    if instance is None:
        instance = postmulti.find_instance(host, name, params['config_dir'])
    result = _empty_config_result(instance.config_dir)
    result.update(name=name, created=False, removed=False, prepared=[], service_action=None, running=False)
    if not instance.exists:
        result['changed'] = False
        return result
    running = postmulti.running_pid(host, instance) is not None
    result.update(changed=True, removed=True)
    if running:
        result['service_action'] = 'stopped'
    if diff:
        result['diff'] = [{'before_header': 'instance', 'after_header': 'instance',
                           'before': _presence(instance, True, instance.enabled), 'after': _presence(instance, False)}]
    if check_mode:
        return result
    if running:
        postmulti.stop(host, instance)
    result['removed_directories'] = postmulti.destroy_instance(host, instance)
    return result


def run(params, host, check_mode=False, diff=False):
    """present/absent; serialised with other runs when the set of instances or the primary may change."""
    name = params['name']
    action = absent if params['state'] == 'absent' else present
    existing = postmulti.find_instance(host, name, params['config_dir'])
    if check_mode or (existing.exists and not existing.primary and params['state'] == 'present'):
        return action(params, host, check_mode, diff, existing)
    lock_dir = posixpath.dirname(postmulti.LOCK_PATH)
    lock_path = postmulti.LOCK_PATH if host.isdir(lock_dir) else '/tmp/mailrelay-postmulti.lock'
    with host.lock(lock_path):
        # Look again under the lock: another run may have changed the instances meanwhile.
        return action(params, host, check_mode, diff)
