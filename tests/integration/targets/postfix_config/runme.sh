#!/usr/bin/env bash
# postfix_config on a real instance (postfix-it-cfg on 127.0.2.11):
#  1. tests.yml: converge from scratch, mail flows, invalid configurations are
#     refused with a clear message while the instance keeps serving and its
#     files stay byte-identical;
#  2. a second run reports changed=0;
#  3. after a hand edit, --check --diff reports exactly that drift, masks the
#     secret and changes nothing; a real run then repairs it.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../setup_postfix_it/files/lib.sh"
set -x
cd "$here" || exit 1
it_dir=/etc/postfix-it-cfg
password=Pw-it-7c1e-never-printed

postfix_it_setup "postfix-it-cfg" 127.0.2.11

postfix_it_playbook tests.yml

# 2. Second run: nothing to do.
postfix_it_playbook converge.yml -e '{"expect": {"changed": false}}' | tee /tmp/postfix-it-cfg.out
grep -q 'changed=0' /tmp/postfix-it-cfg.out

# 3. Hand edit, then --check --diff: exactly that drift, nothing written.
sed -i 's/^myhostname = .*/myhostname = hand-edited.it.test/' "$it_dir/main.cf"
echo 'typo.example discard:' >>"$it_dir/transport"
before=$(postfix_it_sums "$it_dir")
postfix_it_playbook converge.yml --check --diff -v -e '{"expect": {
    "changed": true,
    "main_cf": {"added": [], "changed": ["myhostname"], "removed": []},
    "master_cf": {"added": [], "changed": [], "removed": []},
    "maps": {"written": ["/etc/postfix-it-cfg/transport"], "postmapped": ["/etc/postfix-it-cfg/transport"], "removed": [], "attributes": []}}}' \
  | tee /tmp/postfix-it-cfg.out
after=$(postfix_it_sums "$it_dir")
[[ "$before" == "$after" ]]
grep -q -- '^-myhostname = hand-edited.it.test' /tmp/postfix-it-cfg.out
grep -q -- '^+myhostname = cfg.it.test' /tmp/postfix-it-cfg.out
grep -q -- '^-typo.example discard:' /tmp/postfix-it-cfg.out
! grep -q -- "$password" /tmp/postfix-it-cfg.out

# A real run repairs the drift; check mode then sees nothing.
postfix_it_playbook converge.yml -e '{"expect": {"changed": true}}'
postfix_it_playbook converge.yml --check -e '{"expect": {"changed": false}}'

# A password change shows up in the diff as a changed, masked value, and
# neither the old nor the new password appears in verbose output.
postfix_it_playbook converge.yml --diff -vvv -e it_password=Pw-it-second-secret -e '{"expect": {"changed": true}}' \
  | tee /tmp/postfix-it-cfg.out
grep -q -- '^+\[relay.it.test\]:587 \*\*\*\*\*\*\*\* (changed)' /tmp/postfix-it-cfg.out
! grep -q -e "$password" -e Pw-it-second-secret /tmp/postfix-it-cfg.out
[[ $(stat -c %a "$it_dir/sasl_passwd.db") == 600 ]]
postfix_it_smtp send 127.0.2.11 25 probe@it.test user@it.test
rm -f /tmp/postfix-it-cfg.out
