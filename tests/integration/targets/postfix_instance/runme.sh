#!/usr/bin/env bash
# postfix_instance on real postmulti instances:
#  - two instances created from scratch on 127.0.2.21/.22, one module call each;
#  - a second run reports changed=0;
#  - tests.yml: both answer SMTP independently, stop/start, enable/disable,
#    a restart-needing move to 127.0.2.23, a start failure that quotes the
#    log, removal that leaves nothing behind;
#  - primary.yml: the primary instance (name=postfix) the same way.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../setup_postfix_it/files/lib.sh"
set -x
cd "$here" || exit 1

postfix_it_setup "postfix-it-a postfix-it-b postfix-it-c postfix-it-d" 127.0.2.21 127.0.2.22 127.0.2.23 127.0.2.24 127.0.2.30
postfix_it_files+=(/var/log/postfix-it-primary.log /tmp/postfix-it-inst.out)

postfix_it_playbook instances.yml -e expect_changed=true
postfix_it_playbook instances.yml -e expect_changed=false | tee /tmp/postfix-it-inst.out
grep -q 'changed=0' /tmp/postfix-it-inst.out
rm -f /tmp/postfix-it-inst.out

# Something that is not Postfix holds 127.0.2.24:25, so postfix-it-d cannot start.
postfix_it_hold 127.0.2.24 25
postfix_it_playbook tests.yml
postfix_it_playbook primary.yml
