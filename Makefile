# Every target that runs something first makes sure it is installed
# (scripts/bootstrap.sh only does what is missing).
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help bootstrap sync test test-sanity test-units test-lint test-integration \
        test-molecule demo demo-clean benchmark build demo-publishing

help:
	@echo "make demo        deploy the whole topology on this machine and prove it"
	@echo "make demo-clean  remove everything make demo created"
	@echo "make demo-publishing  build a multi-host lab with a publishing gateway, deploy and prove it"
	@echo "make test        install what is needed and run every test"
	@echo "make benchmark   run the performance measurements under benchmarks/"

bootstrap:
	@scripts/bootstrap.sh

sync:  ## copy for ansible-test
	@scripts/sync-collection.sh

test: bootstrap
	@scripts/run-tests.sh all

test-sanity test-units test-lint test-integration test-molecule: bootstrap
	@scripts/run-tests.sh $(@:test-%=%)

demo: bootstrap
	ansible-playbook -i inventories/lab playbooks/demo.yml

demo-clean: bootstrap
	ansible-playbook -i inventories/lab playbooks/demo_clean.yml
	scripts/publishing-lab.sh down

demo-publishing: bootstrap
	scripts/publishing-demo.sh

benchmark: bootstrap
	@benchmarks/run.sh

build: bootstrap
	ansible-galaxy collection build --force --output-path build/dist .
