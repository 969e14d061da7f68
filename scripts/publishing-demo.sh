#!/usr/bin/env bash
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# `make demo-publishing`: build the multi-host lab, deploy the topology with its gateway
# over SSH, deploy it again (which must change nothing), then prove it from the Internet.
# The lab stays up for a look around; `make demo-clean` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
inventory=inventories/publishing
# ssh's connection sharing sockets belong to the lab: they go when it goes.
export ANSIBLE_SSH_CONTROL_PATH_DIR=/tmp/mailrelay-publishing-lab/cp

scripts/publishing-lab.sh up
ansible-playbook -i "$inventory" playbooks/publishing.yml
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ansible-playbook -i "$inventory" playbooks/publishing.yml | tee "$log"
if grep -E '^[a-z0-9]+ +: .*changed=[1-9]' "$log"; then
  echo "publishing demo: the second deployment changed something (above); it must change nothing" >&2
  exit 1
fi
echo "publishing demo: the second deployment changed nothing"
ansible-playbook -i "$inventory" playbooks/publishing_prove.yml
