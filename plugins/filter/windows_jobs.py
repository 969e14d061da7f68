# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The IIS and Exchange resources that serve a job (docs in iis_job_resources.yml, exchange_job_resources.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_jobs, _iis_jobs


def _resources(name, builders, settings, job, platform):
    if job not in builders.BUILDERS:
        raise AnsibleFilterError("%s: unknown job %r; known jobs are %s" % (name, job, ", ".join(sorted(builders.BUILDERS))))
    try:
        return builders.resources_for(job, settings, platform)
    except (KeyError, ValueError, TypeError) as exc:
        raise AnsibleFilterError("%s(%s): bad settings: %s" % (name, job, exc))


def iis_job_resources(settings, job, platform=None):
    return _resources("iis_job_resources", _iis_jobs, settings, job, platform)


def exchange_job_resources(settings, job, platform=None):
    return _resources("exchange_job_resources", _exchange_jobs, settings, job, platform)


class FilterModule:
    def filters(self):
        return {"iis_job_resources": iis_job_resources, "exchange_job_resources": exchange_job_resources}
