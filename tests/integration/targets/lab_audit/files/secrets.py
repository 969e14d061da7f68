# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print every secret of a topology description, one per line: the users' and the smart host's
passwords as written, in the base64 forms AUTH sends, and the hashes of the deployed passwd-files.

Usage: secrets.py DESCRIPTION_VARS USERS_FILE_GLOB
"""

from __future__ import annotations

import base64
import glob
import sys

import yaml


def main(description_file, users_glob):
    with open(description_file) as handle:
        topology = yaml.safe_load(handle)["mailrelay_topology"]
    found = []
    for user in (topology.get("submission") or {}).get("users") or []:
        password = user["password"]
        found += [password, base64.b64encode(password.encode()).decode(),
                  base64.b64encode(b"\0" + user["login"].encode() + b"\0" + password.encode()).decode()]
    smarthost = (topology.get("outbound") or {}).get("smarthost") or {}
    if smarthost.get("password"):
        found.append(smarthost["password"])
    for path in glob.glob(users_glob):
        with open(path) as handle:
            for line in handle:
                fields = line.rstrip("\n").split(":")
                if len(fields) > 1 and fields[1]:
                    # The hash, and its salt/digest parts: none may show up either.
                    found.append(fields[1])
                    found += [part for part in fields[1].replace("}", "$").split("$") if len(part) >= 12]
    for secret in found:
        print(secret)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
