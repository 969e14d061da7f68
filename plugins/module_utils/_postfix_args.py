# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the Postfix modules share at their edge: argument spec, secrets, failures.

Private to the collection. The documentation of these options lives in the
doc fragment ``mailrelay.smtp._postfix_config``; keep both in step.
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _postmulti as postmulti
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import PostfixConfigError
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_engine import ValidationFailed
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_health import ServiceFailed
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_host import HostError
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_maps import MAP_TYPES
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_master import SERVICE_TYPES


def config_argument_spec():
    """Options that describe one configuration directory's content."""
    return dict(
        main_cf=dict(type='dict'),
        main_cf_mode=dict(type='str', default='merge', choices=['merge', 'exclusive']),
        master_cf=dict(
            type='list',
            elements='dict',
            options=dict(
                service=dict(type='str', required=True),
                type=dict(type='str', required=True, choices=list(SERVICE_TYPES)),
                private=dict(type='raw'),
                unpriv=dict(type='raw'),
                chroot=dict(type='raw'),
                wakeup=dict(type='raw'),
                maxproc=dict(type='raw'),
                command=dict(type='str'),
                args=dict(type='raw'),
                options=dict(type='dict'),
                state=dict(type='str', default='present', choices=['present', 'absent']),
            ),
            required_if=[('state', 'present', ('command',))],
        ),
        master_cf_mode=dict(type='str', default='merge', choices=['merge', 'exclusive', 'listeners']),
        maps=dict(
            type='list',
            elements='dict',
            options=dict(
                name=dict(type='str', required=True),
                type=dict(type='str', default='hash', choices=sorted(MAP_TYPES)),
                entries=dict(type='raw'),
                secret=dict(type='bool', default=False),
                mode=dict(type='raw'),
                owner=dict(type='str'),
                group=dict(type='str'),
                state=dict(type='str', default='present', choices=['present', 'absent']),
            ),
        ),
        validate=dict(type='bool', default=True),
        allow_unused_parameters=dict(type='bool', default=False),
    )


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = str(value).strip()
        if text:
            yield text


def secret_map_values(maps):
    """Every value of every map marked secret, whatever its shape.

    Called before any validation so that even an error about a malformed
    secret map cannot echo a password through the module's invocation.
    Keys stay visible; in a list of pairs only the second item is a value.
    """
    values = set()
    for spec in maps or []:
        if not isinstance(spec, dict) or not spec.get('secret'):
            continue
        entries = spec.get('entries')
        if isinstance(entries, dict):
            candidates = list(entries.values())
        elif isinstance(entries, (list, tuple)):
            candidates = []
            for item in entries:
                if isinstance(item, (list, tuple)) and len(item) == 2:
                    candidates.append(item[1])
                elif isinstance(item, dict):
                    candidates.append(item.get('value'))
                else:
                    candidates.append(item)
        elif isinstance(entries, str):
            # The table text: the whole text and the value part of every "key value" line.
            candidates = [entries] + [line.split(None, 1)[1] for line in entries.splitlines() if len(line.split(None, 1)) == 2]
        else:
            candidates = [entries]
        for candidate in candidates:
            values.update(_strings(candidate))
    return sorted(values)


# Everything the engine and postmulti raise for a configuration or a host they refuse.
POSTFIX_ERRORS = (ValidationFailed, PostfixConfigError, HostError, postmulti.InstanceError, ServiceFailed)


def failure(error, subject, unchanged='the live files and the running service are unchanged'):
    """fail_json arguments for one of POSTFIX_ERRORS about ``subject`` (an instance or a directory)."""
    if isinstance(error, ValidationFailed):
        return dict(msg='The new configuration of %s was refused; %s. %s' % (subject, unchanged, ' | '.join(error.problems)),
                    problems=error.problems)
    if isinstance(error, PostfixConfigError):
        return dict(msg=str(error), option=error.option)
    if isinstance(error, ServiceFailed):
        return dict(msg=str(error), rolled_back=not error.rollback_failed, rollback_failed=error.rollback_failed)
    return dict(msg=str(error))
