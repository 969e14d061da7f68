# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils._local_files import text_or_none


def test_the_text_of_a_file_or_none_when_it_does_not_exist(tmp_path):
    path = tmp_path / "signing.table"
    path.write_text("*@example.org mailrelay1\n", encoding="utf-8")
    assert text_or_none(str(path)) == "*@example.org mailrelay1\n"
    assert text_or_none(str(tmp_path / "missing")) is None


def test_a_file_that_cannot_be_read_is_an_error_not_a_missing_file(tmp_path):
    # A directory where a file is expected must not pass for "not there yet".
    with pytest.raises(IsADirectoryError):
        text_or_none(str(tmp_path))
