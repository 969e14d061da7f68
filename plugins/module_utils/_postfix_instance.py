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

import ipaddress
import posixpath

from ansible_collections.mailrelay.smtp.plugins.module_utils import _postmulti as postmulti
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_args import config_argument_spec
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import MainCf, PostfixConfigError
from ansible_collections.mailrelay.smtp.plugins.module_utils import _postfix_engine as engine
from ansible_collections.mailrelay.smtp.plugins.module_utils import _postfix_health as health
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
        queued=dict(type='str', default='refuse', choices=['refuse', 'flush', 'drop']),
        enabled=dict(type='bool'),
        service_state=dict(type='str', default='started',
                           choices=['started', 'stopped', 'reloaded', 'restarted', 'unmanaged']),
        dns_servers=dict(type='list', elements='str'),
    )
    return spec


def check_dns_servers(dns_servers):
    """The name servers of ``dns_servers`` as addresses; PostfixConfigError naming the field otherwise."""
    if dns_servers is None:
        return None
    if len(dns_servers) > postmulti.MAX_NAMESERVERS:
        raise PostfixConfigError('dns_servers', 'at most %d name servers (the resolver reads no more), got %d'
                                 % (postmulti.MAX_NAMESERVERS, len(dns_servers)))
    servers = []
    for index, server in enumerate(dns_servers):
        try:
            servers.append(str(ipaddress.ip_address(str(server).strip())))
        except ValueError:
            raise PostfixConfigError('dns_servers[%d]' % index, '%r is not an IP address' % (server,))
    return servers


def _resolver_check(name, dns_servers, instance_of_plan):
    """A before-commit check: own name servers need a chrooted service to read them."""
    def check(plan):
        if not dns_servers:
            return
        instance = instance_of_plan(plan)
        master_text = plan.master_after if plan.master_after is not None else plan.master_before
        if not postmulti.chrooted_services(instance, master_text):
            raise ValidationFailed(['dns_servers: no service of %s runs chrooted, so none would read them from '
                                    '$queue_directory/%s (set chroot y on the smtp unix service)' % (name, postmulti.RESOLVER_FILE)])
    return check


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
    dns_servers = check_dns_servers(params.get('dns_servers'))
    if instance is None:
        instance = postmulti.find_instance(host, name, params['config_dir'])
    diff_items = []
    # Bad input (a line break in a value, a wrong type...) is refused before anything changes: no instance
    # is created for it, and check mode says so too.
    ConfigRequest.from_params(params, config_dir=instance.config_dir,
                              extra_main_cf=instance_main_cf(params, instance, not instance.exists))
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

    own_pid = postmulti.running_pid(host, instance) if instance.exists else None

    def no_listen_clash(plan):
        main_text = plan.main_after if plan.main_after is not None else plan.main_before
        master_text = plan.master_after if plan.master_after is not None else plan.master_before
        problems = postmulti.listen_clashes(host, name, main_text, master_text)
        # Ports another process holds: refused before any file is touched.
        if not problems:
            problems.extend(health.port_problems(host, main_text, master_text, own_pid))
        if problems:
            raise ValidationFailed(problems)

    def instance_of_plan(plan):
        main_text = plan.main_after if plan.main_after is not None else plan.main_before
        return postmulti.Instance(name, instance.config_dir, MainCf(main_text or ''), True)

    resolver_check = _resolver_check(name, dns_servers, instance_of_plan)

    def before_commit(plan):
        resolver_check(plan)
        if request.validate:
            no_listen_clash(plan)

    try:
        # find_instance has read main.cf already; the engine need not read it again.
        plan, config_result = converge(host, request, check_mode=check_mode, want_diff=diff,
                                       main_text=instance.main.text if instance.exists else None,
                                       before_commit=before_commit, remember_previous=True)
        if not plan.changed:
            resolver_check(plan)
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

    running = postmulti.running_pid(host, before) is not None
    # The chroot's resolver file (dns_servers): new smtp(8) processes read it, so a reload applies it.
    resolver = postmulti.sync_resolver(host, after, dns_servers, check_mode=check_mode)
    if resolver is not None:
        result['changed'] = True
        result['resolver_changed'] = True
        if running:
            result['reload_needed'] = True
        path = posixpath.join(after.queue_directory, postmulti.RESOLVER_FILE)
        diff_items.append({'before_header': path, 'after_header': path, 'before': resolver[0], 'after': resolver[1]})
    else:
        result['resolver_changed'] = False

    service_state = params['service_state']
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

    if action in ('started', 'restarted', 'reloaded') and not plan.changed and request.validate \
            and (check_mode or not engine.has_previous(host, instance.config_dir)):
        no_listen_clash(plan)
    if action and not check_mode:
        _act_and_prove(host, name, before, after, action, running, result['created'],
                       check=no_listen_clash if request.validate and not plan.changed else None, plan=plan)
    elif not check_mode and not running:
        # Nothing runs the previous files any more: there is nothing to go back to.
        engine.drop_previous(host, instance.config_dir)
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


def _act_and_prove(host, name, before, after, action, was_running, created, check=None, plan=None):
    """Start, stop, reload or restart; then prove the instance serves, or put the previous one back.

    ``check(plan)``: the listen checks, run first when this run changed no
    file (a handler's reload of files an earlier task committed).
    """
    try:
        if check is not None and action != 'stopped':
            check(plan)
        if action in ('stopped', 'restarted'):
            postmulti.stop(host, before)
        if action in ('started', 'restarted'):
            postmulti.start(host, after)
        if action == 'reloaded':
            postmulti.reload(host, after)
        if action != 'stopped':
            problems = _serving_problems(host, after)
            if problems:
                raise health.ServiceFailed('; '.join(problems))
    except (health.ServiceFailed, postmulti.InstanceError, ValidationFailed) as exc:
        if action == 'stopped':
            raise
        cause = '; '.join(exc.problems) if isinstance(exc, ValidationFailed) else str(exc)
        if isinstance(exc, ValidationFailed) and not engine.has_previous(host, after.config_dir):
            raise   # nothing was changed: a plain refusal
        roll_back(host, name, after.config_dir, action, was_running, created, cause)
    engine.drop_previous(host, after.config_dir)


def _serving_problems(host, instance):
    """What health.serving_problems finds, after the master had time to apply a reload."""
    pid = postmulti.running_pid(host, instance)
    problems = health.serving_problems(host, instance, pid)
    if problems or not pid:
        return problems
    wanted = [endpoint for _label, endpoint in health.service_endpoints(
        host.read(posixpath.join(instance.config_dir, 'main.cf')),
        host.read(posixpath.join(instance.config_dir, 'master.cf')), host.port_number, host.resolve)]
    stale = []
    for _attempt in range(health.HEALTH_WAIT[1]):
        stale = health.stale_listeners(host, wanted, pid)
        if not stale:
            break
        host.sleep(health.HEALTH_WAIT[0])
    return ['%s still listens on %s, which the configuration no longer declares' % (
        instance.name, health.describe_endpoint(endpoint)) for endpoint in stale]


def roll_back(host, name, config_dir, action, was_running, created, cause):
    """Put back the previous files and service state after ``cause``; always raises ServiceFailed."""
    done = []
    try:
        restored = engine.restore_previous(host, config_dir) if engine.has_previous(host, config_dir) else []
        if restored:
            done.append('put back %d file(s) (%s)' % (len(restored), ', '.join(restored)))
        previous = postmulti.find_instance(host, name, config_dir)
        pid = postmulti.running_pid(host, previous)
        if created:
            if pid:
                postmulti.stop(host, previous)
            postmulti.destroy_instance(host, previous)
            done.append('removed the new instance')
        elif not was_running:
            if pid:
                postmulti.stop(host, previous)
                done.append('stopped it again')
        else:
            if action == 'reloaded' and pid:
                postmulti.reload(host, previous)
                done.append('reloaded the previous configuration')
                problems = _serving_problems(host, previous)
                if problems:
                    # master(8) keeps throttling a service whose processes died at start-up
                    # (e.g. smtpd without its SASL socket) across a reload: start afresh.
                    done.append('it did not serve (%s), so it was restarted' % '; '.join(problems))
                    postmulti.stop(host, previous)
                    postmulti.start(host, previous)
            else:
                if pid:
                    postmulti.stop(host, previous)
                postmulti.start(host, previous)
                done.append('started the previous configuration')
            problems = _serving_problems(host, postmulti.find_instance(host, name, config_dir))
            if problems:
                raise health.ServiceFailed('; '.join(problems))
            done.append('it serves again')
    except Exception as exc:  # pylint: disable=broad-except
        raise health.ServiceFailed(
            'ROLLBACK FAILED - %s IS NOT SERVING. The new configuration failed (%s); putting the previous one '
            'back failed too: %s (done before that: %s). Fix it by hand.' % (
                name, cause, exc, '; '.join(done) or 'nothing'), rollback_failed=True)
    raise health.ServiceFailed('%s: the new configuration does not serve: %s. Rolled back: %s.' % (
        name, cause, '; '.join(done) or 'nothing had changed'))


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
    queued = params.get('queued') or 'refuse'
    waiting = postmulti.queued_messages(host, instance)
    if waiting and queued == 'flush' and running and not check_mode:
        waiting = _flush(host, instance)
    if waiting and queued != 'drop' and not (check_mode and queued == 'flush' and running):
        # Refused before anything is stopped: the instance keeps serving its queue.
        raise postmulti.InstanceError(
            '%s has %d queued file(s) under %s; it was not stopped or removed. Let the queue drain, or set '
            'queued=flush (deliver, then remove) or queued=drop (delete the mail)' % (name, waiting, instance.queue_directory))
    result.update(changed=True, removed=True, dropped_messages=waiting if queued == 'drop' else 0)
    if running:
        result['service_action'] = 'stopped'
    if diff:
        result['diff'] = [{'before_header': 'instance', 'after_header': 'instance',
                           'before': _presence(instance, True, instance.enabled), 'after': _presence(instance, False)}]
    if check_mode:
        return result
    if running:
        postmulti.stop(host, instance)
    if waiting and queued == 'drop':
        # Without a running postlogd, postsuper may fail to write maillog_file after
        # it deleted the mail: what counts is whether the queue is empty afterwards.
        rc, _out, err = host.run([host.command('postsuper'), '-c', instance.config_dir, '-d', 'ALL'])
        if rc != 0 and postmulti.queued_messages(host, instance):
            raise postmulti.InstanceError('postsuper -c %s -d ALL failed: %s' % (instance.config_dir, err.strip()))
    result['removed_directories'] = postmulti.destroy_instance(host, instance)
    return result


FLUSH_WAIT = (0.5, 60)   # poll interval (s), polls: at most 30 s


def _flush(host, instance):
    """Ask the running instance to deliver its queue; return what is still queued after a bounded wait."""
    host.run([host.command('postqueue'), '-c', instance.config_dir, '-f'])
    interval, polls = FLUSH_WAIT
    waiting = postmulti.queued_messages(host, instance)
    for _attempt in range(polls):
        if not waiting:
            break
        host.sleep(interval)
        waiting = postmulti.queued_messages(host, instance)
    return waiting


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
