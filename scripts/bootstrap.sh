#!/usr/bin/env bash
# Installs everything `make test` and `make demo` need on a fresh Debian/Ubuntu
# machine: Debian packages (as root), the project venv, the collection copy
# that ansible-test needs. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  postfix postfix-pcre postfix-lmdb
  dovecot-core swaks sasl2-bin libsasl2-modules
  dnsmasq nftables iproute2 openssl rsync make shellcheck
  python3 python3-venv python3-apt ca-certificates
  # ansible-test refuses to start without ssh-keygen, even for local targets
  openssh-client
  # swaks only speaks STARTTLS with Net::SSLeay (a Recommends, skipped by --no-install-recommends)
  libnet-ssleay-perl
  # issue 16: playbooks/diagram.yml draws the topology with Graphviz's dot
  graphviz
  # DKIM signing on the Postfix hub (issue 14); opendkim-tools for opendkim-testkey by hand
  opendkim opendkim-tools
  # the publishing lab: every namespace host runs its own sshd, reached by Ansible over SSH
  openssh-server
)

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: missing Debian packages (${missing[*]}); run as root" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}"
  # "No configuration": the collection writes every main.cf itself.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements-dev.txt
  echo "$want" >"$stamp"
fi



# Playbooks, molecule and pytest use the working tree in place through this
# symlink, so an edit never runs against a stale copy.
mkdir -p .cache/collections/ansible_collections/mailrelay
ln -sfn ../../../.. .cache/collections/ansible_collections/mailrelay/smtp

# ansible-test downloads a get-pip script from a host CI cannot reach; give it
# an offline stand-in for the pip version it asks for.
pip_version=$(.venv/bin/python - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version="3.11"))["pip"])
PY
)
get_pip_cache=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$get_pip_cache")"
cmp -s scripts/ansible-test-get-pip.py "$get_pip_cache" 2>/dev/null || cp scripts/ansible-test-get-pip.py "$get_pip_cache"
