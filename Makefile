# The verbs people reach for. Stacks: dev (this machine), staging, production (see README).
# preview/up run the policy pack in policy/ like CI does, with policy/$(STACK).json when it exists.
.DEFAULT_GOAL := help
.PHONY: help test lint preview up destroy
POLICY = $(if $(wildcard policy/PulumiPolicy.yaml),--policy-pack policy $(if $(wildcard policy/$(STACK).json),--policy-pack-config policy/$(STACK).json))
NEED_STACK = $(if $(STACK),,$(error STACK is required, e.g. make $@ STACK=staging))

help: ## this list
	@awk -F':.*## ' '/^[a-z]+:.*## /{printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
test: ## the test suite (the README's test command)
	venv/bin/python -m pytest -ra tests
lint: ## actionlint (with shellcheck) over .github/workflows
	PATH="$(CURDIR)/venv/bin:$$PATH" venv/bin/actionlint .github/workflows/*.yml
preview: policy/venv ## pulumi preview STACK=dev|staging|production
	$(NEED_STACK)pulumi preview --stack $(STACK) $(POLICY)
up: policy/venv ## pulumi up STACK=dev|staging|production (asks before it changes anything)
	$(NEED_STACK)pulumi up --stack $(STACK) $(POLICY)
# The policy pack's own environment: without it, `pulumi preview --policy-pack policy` waits forever
# (seen with the real engine) instead of saying what is missing.
policy/venv: policy/requirements.txt
	python3 -m venv policy/venv && policy/venv/bin/pip install -q -r policy/requirements.txt && touch policy/venv
destroy: ## pulumi destroy STACK=... keeping what is protected (the packages and the CA); previews first
	$(NEED_STACK)pulumi destroy --stack $(STACK) --exclude-protected
