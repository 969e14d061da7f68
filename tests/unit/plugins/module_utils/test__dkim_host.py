# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""signer_set: what the opendkim module and postfix_instances' opendkim option both check first.

The plan itself is tested through both modules (tests/unit/plugins/modules/test_opendkim.py and
test_postfix_instances.py), against real key files and ``opendkim -n``.
"""

from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dkim_host

PARAMS = {"name": "postfix-hub", "config_dir": "/etc/mailrelay/opendkim", "domains": ["Example.ORG"], "internal_hosts": ["192.0.2.10"],
          "port": 8891, "keys": [{"key_selector": "s1-hub", "algorithm": "rsa", "active": True},
                                 {"key_selector": "s2-hub", "algorithm": "ed25519", "active": False}]}


def test_paths_lower_cased_domains_and_each_key_with_its_file():
    where, domains, keys = _dkim_host.signer_set(PARAMS)
    assert where["keys"] == "/etc/mailrelay/opendkim/postfix-hub/keys"
    assert domains == ["example.org"]
    assert [key["path"] for key in keys] == ["/etc/mailrelay/opendkim/postfix-hub/keys/s1-hub.private",
                                             "/etc/mailrelay/opendkim/postfix-hub/keys/s2-hub.private"]
    assert [key["key_selector"] for key in PARAMS["keys"]] == ["s1-hub", "s2-hub"] and "path" not in PARAMS["keys"][0]


def test_a_bad_name_is_named_before_anything_else():
    with pytest.raises(_dkim_host.InputError) as caught:
        _dkim_host.signer_set(dict(PARAMS, name="Hub", domains=[]))
    assert str(caught.value) == "name: 'Hub' must be lower-case letters, digits, '-' and '_'" and caught.value.problems == []


def test_the_problems_of_the_keys_are_listed_together():
    with pytest.raises(_dkim_host.InputError) as caught:
        _dkim_host.signer_set(dict(PARAMS, domains=[], keys=[{"key_selector": "s1-hub", "algorithm": "rsa", "active": False}]))
    assert caught.value.problems == ["keys: no key is active; mark the keys of the signing selector with active: true",
                                     "domains: at least one domain to sign for is needed"]
    assert str(caught.value) == "; ".join(caught.value.problems)


def test_reading_needs_no_active_key_and_removing_needs_only_the_name():
    inactive = dict(PARAMS, keys=[{"key_selector": "s1-hub", "algorithm": "rsa", "active": False}])
    assert len(_dkim_host.signer_set(inactive, "read")[2]) == 1
    with pytest.raises(_dkim_host.InputError):
        _dkim_host.signer_set(inactive)
    where, domains, keys = _dkim_host.signer_set(dict(PARAMS, keys=None, domains=[]), "absent")
    assert where["dir"] == "/etc/mailrelay/opendkim/postfix-hub" and domains == [] and keys == []
