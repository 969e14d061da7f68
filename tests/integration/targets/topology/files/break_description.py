# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write one extra-vars file per case of bad_descriptions.yml: the valid description with the case's changes.

Usage: break_description.py VALID_VARS CASES OUTDIR; prints "NAME<TAB>EXPECTED" per case.
"""

import copy
import json
import os
import sys

import yaml


def broken(topology, changes):
    topology = copy.deepcopy(topology)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = topology
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is None:
            del node[last]
        else:
            node[last] = value
    return topology


def main(valid_vars, cases, outdir):
    with open(valid_vars) as stream:
        valid = yaml.safe_load(stream)["mailrelay_topology"]
    with open(cases) as stream:
        for case in yaml.safe_load(stream):
            with open(os.path.join(outdir, case["name"] + ".json"), "w") as out:
                json.dump({"mailrelay_topology": broken(valid, case["set"])}, out)
            print("%s\t%s" % (case["name"], case["expected"]))


if __name__ == "__main__":
    main(*sys.argv[1:])
