#!/usr/bin/env bash
# The postfix role, included twice in one play (one instance per inclusion):
#  - converge from scratch, both answer; a second run reports changed=0;
#  - a change of both banners and of role2's address: the converge call itself
#    reloads role1 (same master) and restarts role2 (new master), and proves both
#    serve; the handler has nothing left to do;
#  - --check with a change reports it and changes nothing (no handler acts);
#  - the notify entry point makes the handler reload role1;
#  - removal through the role.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../setup_postfix_it/files/lib.sh"
set -x
cd "$here" || exit 1
out=/tmp/postfix-it-role.out
postfix_it_files+=("$out")

postfix_it_setup "postfix-it-role1 postfix-it-role2" 127.0.2.31 127.0.2.32 127.0.2.33

banner() { postfix_it_smtp banner "$1"; }

postfix_it_playbook site.yml | tee "$out"
grep -q 'changed=' "$out"
[[ "$(banner 127.0.2.31)" == "220 role1.it.test ESMTP v1" ]]
[[ "$(banner 127.0.2.32)" == "220 role2.it.test ESMTP v1" ]]
postfix_it_smtp send 127.0.2.31 25 probe@it.test user@it.test
postfix_it_smtp send 127.0.2.32 25 probe@it.test user@it.test
[[ $(stat -c %a /etc/postfix-it-role1/sasl_passwd.db) == 600 ]]

# Second run: nothing changes, no handler runs.
postfix_it_playbook site.yml | tee "$out"
grep -q 'ok=.*changed=0 ' "$out"
! grep -q 'RUNNING HANDLER' "$out"

# --check with a change: reported, nothing written, nothing reloaded.
before=$(postfix_it_sums /etc/postfix-it-role1)
postfix_it_playbook site.yml --check --diff -e banner=v2 | tee "$out"
# shellcheck disable=SC2016  # $myhostname is Postfix's, not the shell's
grep -q -- '^+smtpd_banner = \$myhostname ESMTP v2' "$out"
[[ "$before" == "$(postfix_it_sums /etc/postfix-it-role1)" ]]
[[ "$(banner 127.0.2.31)" == "220 role1.it.test ESMTP v1" ]]

# A real change: role1 is reloaded, role2 (new address) restarted, in the converge call.
master_pid() { tr -d ' \n' </var/spool/"$1"/pid/master.pid; }
role1_pid=$(master_pid postfix-it-role1)
role2_pid=$(master_pid postfix-it-role2)
postfix_it_playbook site.yml -e banner=v2 -e role2_address=127.0.2.33 | tee "$out"
[[ $(grep -A1 'TASK \[mailrelay.smtp.postfix : Converge the Postfix instances\]' "$out" | grep -c '^changed:') == 2 ]]
[[ "$(master_pid postfix-it-role1)" == "$role1_pid" ]]   # reloaded: the same master
[[ "$(master_pid postfix-it-role2)" != "$role2_pid" ]]   # restarted: a new master
! grep -A3 'RUNNING HANDLER \[mailrelay.smtp.postfix : Restart' "$out" | grep -q 'item='
! grep -A3 'RUNNING HANDLER \[mailrelay.smtp.postfix : Reload' "$out" | grep -q 'item='
[[ "$(banner 127.0.2.31)" == "220 role1.it.test ESMTP v2" ]]
[[ "$(banner 127.0.2.33)" == "220 role2.it.test ESMTP v2" ]]
postfix_it_smtp closed 127.0.2.32
! grep -q 'Pw-role-5e2a-never-printed' "$out"

# The notify entry point: a reload of role1 only.
postfix_it_playbook site.yml -e banner=v2 -e role2_address=127.0.2.33 -e notify_role1=true | tee "$out"
grep -A2 'RUNNING HANDLER \[mailrelay.smtp.postfix : Reload' "$out" | grep -q 'changed: \[localhost\] => (item=postfix-it-role1)'
! grep -A3 'RUNNING HANDLER \[mailrelay.smtp.postfix : Restart' "$out" | grep -q 'item='

# Verbose output never shows the secret.
postfix_it_playbook site.yml -vvv -e banner=v2 -e role2_address=127.0.2.33 >"$out" 2>&1
! grep -q 'Pw-role-5e2a-never-printed' "$out"

postfix_it_playbook remove.yml
postfix_it_smtp closed 127.0.2.31
postfix_it_smtp closed 127.0.2.33
[[ ! -e /etc/postfix-it-role1 && ! -e /etc/postfix-it-role2 ]]
