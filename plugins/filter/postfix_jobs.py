# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Postfix instance that serves a job (docs in postfix_job_instance.yml), all the Postfix
instances of one topology host (host_postfix_instances.yml), the certificates a hub
reads on other hosts (hub_foreign_certificates.yml) and the
fingerprint a Postfix hub trusts a submission server's certificate by (certificate_fingerprint.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.mailrelay.smtp.plugins.module_utils import _job_settings, _postfix_jobs


def postfix_job_instance(settings, job):
    if job not in _postfix_jobs.BUILDERS:
        raise AnsibleFilterError("postfix_job_instance: unknown job %r; known jobs are %s" % (job, ", ".join(sorted(_postfix_jobs.BUILDERS))))
    problems, warnings = _job_settings.check(job, settings)
    if problems:
        raise AnsibleFilterError("the %s settings are refused (nothing was changed):\n- %s" % (job, "\n- ".join(problems)))
    for warning in warnings:
        Display().warning(warning)
    try:
        return _postfix_jobs.instance_for(job, settings)
    except (KeyError, ValueError, TypeError) as exc:
        raise AnsibleFilterError("postfix_job_instance(%s): bad settings: %s" % (job, exc))


def host_postfix_instances(jobs, host, hub_fingerprints=None, role_settings=None):
    try:
        instances, warnings = _postfix_jobs.host_instances(jobs, host, hub_fingerprints or [], role_settings)
    except _postfix_jobs.JobSettingsError as exc:
        raise AnsibleFilterError(str(exc))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("host_postfix_instances: the jobs of %s are not those topology_jobs_by_host derives: %s" % (host, exc))
    for warning in warnings:
        Display().warning(warning)
    return instances


def hub_foreign_certificates(jobs_by_host, hubs):
    if not isinstance(jobs_by_host, dict):
        raise AnsibleFilterError("hub_foreign_certificates: expects the result of topology_jobs_by_host, got %s" % type(jobs_by_host).__name__)
    try:
        return _postfix_jobs.hub_foreign_certificates(jobs_by_host, list(hubs or []))
    except (AttributeError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("hub_foreign_certificates: the jobs are not those topology_jobs_by_host derives: %s" % exc)


def certificate_fingerprint(pem):
    try:
        return _postfix_jobs.certificate_fingerprint(pem)
    except ValueError as exc:
        raise AnsibleFilterError("certificate_fingerprint: %s" % exc)


class FilterModule:
    def filters(self):
        return {
            "postfix_job_instance": postfix_job_instance,
            "host_postfix_instances": host_postfix_instances,
            "hub_foreign_certificates": hub_foreign_certificates,
            "certificate_fingerprint": certificate_fingerprint,
        }
