# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the collection's fixed PowerShell payloads on a Windows host.

A payload is a ``.ps1`` file under ``plugins/payloads/``, shipped with the
collection and never assembled from user data. It runs through
``ansible.windows.win_powershell`` over the host's own connection (WinRM,
PSRP or SSH), receives user data only as parameters (secrets as
SecureString through ``sensitive_parameters``), and hands back one JSON
document as a string in ``$Ansible.Result``. The JSON string, rather than
win_powershell's own object serialisation, keeps nesting depth and binary
values (base64) exact.

Payload contract:
- One payload per resource family, with a ``Mode`` parameter: ``read``
  returns the raw state and changes nothing; ``apply`` executes the typed
  ``Operations`` and returns the state after, so read and apply share one
  reader.
- ``[CmdletBinding(SupportsShouldProcess)]``, so that win_powershell runs the
  read in check mode; ``apply`` is never called in check mode.
- ``$Ansible.Changed`` is set by the payload (``$false`` for a read).
- ``$Ansible.Result = ConvertTo-Json -InputObject $state -Depth 10 -Compress``.
- A terminating error whose message starts with ``MAILRELAY:<code>:`` is a
  known failure; the code lets the action plugin print a clear message.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import json
import os
import re

WIN_POWERSHELL = "ansible.windows.win_powershell"
PAYLOAD_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "payloads")

_KNOWN_FAILURE = re.compile(r"MAILRELAY:(?P<code>[A-Za-z0-9_.-]+):\s*(?P<text>.*)", re.DOTALL)
_payload_cache = {}


class PayloadError(Exception):
    """A payload failed on the host, or returned something that is not its contract."""

    def __init__(self, payload, message, code=None):
        super().__init__(message)
        self.payload = payload
        self.message = message
        # ``code`` comes from a ``MAILRELAY:<code>:`` error raised by the payload itself.
        self.code = code


def payload_path(name):
    return os.path.join(PAYLOAD_DIR, name + ".ps1")


def load_payload(name):
    """Return the text of payload ``name`` (cached: a play runs it per host)."""
    if name not in _payload_cache:
        with open(payload_path(name), encoding="utf-8") as handle:
            _payload_cache[name] = handle.read()
    return _payload_cache[name]


def build_module_args(name, parameters=None, secrets=None):
    """The win_powershell arguments that run payload ``name``."""
    module_args = {
        "script": load_payload(name),
        "parameters": dict(parameters or {}),
        "error_action": "stop",
    }
    if secrets:
        module_args["sensitive_parameters"] = [
            {"name": key, "value": value} for key, value in sorted(secrets.items())
        ]
    return module_args


def _error_text(record):
    if not isinstance(record, dict):
        return str(record)
    exception = record.get("exception") or {}
    details = record.get("error_details") or {}
    return (
        (details.get("message") if isinstance(details, dict) else None)
        or (exception.get("message") if isinstance(exception, dict) else None)
        or record.get("output")
        or ""
    )


def failure_from_result(name, result):
    """Turn a failed win_powershell result into a PayloadError with the most useful text."""
    records = result.get("error") or []
    texts = [text for text in (_error_text(record) for record in records) if text]
    for text in texts:
        match = _KNOWN_FAILURE.search(text)
        if match:
            return PayloadError(name, match.group("text").strip(), code=match.group("code"))
    if result.get("unreachable"):
        return PayloadError(name, "host unreachable: %s" % result.get("msg", ""), code="unreachable")
    message = "; ".join(texts) or result.get("msg") or "unknown error"
    return PayloadError(name, message)


def decode_result(name, result):
    """Return the JSON document a successful payload run put in ``$Ansible.Result``."""
    if result.get("failed") or result.get("unreachable"):
        raise failure_from_result(name, result)
    raw = result.get("result")
    if not isinstance(raw, str):
        raise PayloadError(name, "payload %s returned no JSON document (got %s)" % (name, type(raw).__name__))
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise PayloadError(name, "payload %s returned invalid JSON: %s" % (name, exc))


def run_payload(action, task_vars, name, parameters=None, secrets=None):
    """Run payload ``name`` once through ``action``'s connection and return its JSON document.

    ``action`` is the calling ActionBase instance: ``_execute_module`` ships
    win_powershell over whatever connection the host uses.
    """
    result = action._execute_module(
        module_name=WIN_POWERSHELL,
        module_args=build_module_args(name, parameters, secrets),
        task_vars=task_vars,
    )
    return decode_result(name, result)
