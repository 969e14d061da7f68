# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certificate_fingerprint filter agrees with OpenSSL's own SHA-256 fingerprint."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.mailrelay.smtp.plugins.filter.postfix_jobs import FilterModule

FILTERS = FilterModule().filters()


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command")
def test_fingerprint_matches_openssl(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=t.invalid",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    shown = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256"],
                           check=True, capture_output=True, text=True).stdout
    assert FILTERS["certificate_fingerprint"](cert.read_text()) == shown.strip().split("=", 1)[1]


def test_no_certificate_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="certificate_fingerprint: no PEM certificate"):
        FILTERS["certificate_fingerprint"]("not a certificate")
