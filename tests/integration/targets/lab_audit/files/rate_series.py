# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Prints, per testsuite of a relay_audit JUnit report that ran the AUTH brute-force series, one line
``SUITE WARM_UPS VERDICT`` (VERDICT: pass, or the failure/error tag of auth-over-rate).

    python3 rate_series.py REPORT.xml
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def main(path):
    for suite in ET.parse(path).getroot().iter("testsuite"):
        cases = {case.get("name"): case for case in suite.iter("testcase")}
        over = cases.get("auth-over-rate")
        if over is None:
            continue
        warm_ups = [name for name in cases if name.startswith("auth-rate-warm-up-")]
        verdicts = [child.tag for child in over if child.tag in ("failure", "error", "skipped")]
        print("%s %d %s" % (suite.get("name").replace(" ", "_"), len(warm_ups), verdicts[0] if verdicts else "pass"))


if __name__ == "__main__":
    main(sys.argv[1])
