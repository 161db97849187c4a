# The verbs people reach for. Stacks: dev (this machine), staging, production (see README).
# preview/up run the policy pack in policy/ like CI does, with policy/$(STACK).json when it exists.
.DEFAULT_GOAL := help
.PHONY: help engine dev dev-ca test lint preview up destroy
POLICY = $(if $(wildcard policy/PulumiPolicy.yaml),--policy-pack policy $(if $(wildcard policy/$(STACK).json),--policy-pack-config policy/$(STACK).json))
NEED_STACK = $(if $(STACK),,$(error STACK is required, e.g. make $@ STACK=staging))
# At most this many resource operations at once: each of the Docker provider's opens an SSH connection,
# and a stock sshd drops them past 10 at once (components/host/scripts.py, PARALLEL; the tests keep the two equal).
PARALLEL = --parallel 8

# The engine: your own `pulumi` when it is on PATH, otherwise the one tools/build-engine builds from the
# release sources and caches (machines that cannot download Pulumi; see README, "The engine").
ENGINE = if ! command -v pulumi >/dev/null 2>&1; then PATH="$$(tools/build-engine):$$PATH"; fi &&
# The dev stack's own backend and passphrase, for these targets only: a later `pulumi` command for
# staging or production in the same shell inherits neither.
DEV = PULUMI_BACKEND_URL=file://$(CURDIR)/.pulumi-dev PULUMI_CONFIG_PASSPHRASE=dev PULUMI_SKIP_UPDATE_CHECK=true

help: ## this list
	@awk -F':.*## ' '/^[a-z-]+:.*## /{printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
engine: ## build and cache the Pulumi CLI and plugins from their release sources (tools/build-engine)
	tools/build-engine
dev: ## deploy the dev stack onto this machine's Docker engine (https://127.0.0.1:8443)
	mkdir -p .pulumi-dev
	$(ENGINE) $(DEV) pulumi stack select --create dev && $(DEV) pulumi up --yes --stack dev $(PARALLEL)
dev-ca: ## print the dev stack's CA certificate (make dev-ca > pypi-index-ca.pem)
	@$(ENGINE) $(DEV) pulumi stack output --stack dev caCertificate
test: ## the test suite (the README's test command)
	venv/bin/python -m pytest -ra tests
lint: ## actionlint (with shellcheck) over .github/workflows
	PATH="$(CURDIR)/venv/bin:$$PATH" venv/bin/actionlint .github/workflows/*.yml
preview: policy/venv ## pulumi preview STACK=dev|staging|production
	$(NEED_STACK)$(ENGINE) pulumi preview --stack $(STACK) $(PARALLEL) $(POLICY)
up: policy/venv ## pulumi up STACK=dev|staging|production (asks before it changes anything)
	$(NEED_STACK)$(ENGINE) pulumi up --stack $(STACK) $(PARALLEL) $(POLICY)
# The policy pack's own environment: without it, `pulumi preview --policy-pack policy` waits forever
# (seen with the real engine) instead of saying what is missing.
# The pack imports the program's facts (policy/program_facts.py) and its own modules by their full names
# from the repository root, as everything here does: a path file puts the root on the environment's path.
# Remade when this file changes, so an environment made before the path file was written gets it.
policy/venv: policy/requirements.txt Makefile
	python3 -m venv policy/venv && policy/venv/bin/pip install -q -r policy/requirements.txt
	policy/venv/bin/python -c 'import site, sys; open(site.getsitepackages()[0] + "/pypi-index.pth", "w").write(sys.argv[1] + "\n")' "$(CURDIR)"
	touch policy/venv
destroy: ## pulumi destroy STACK=... keeping what is protected (the packages and the CA); previews first
	$(NEED_STACK)$(ENGINE) pulumi destroy --stack $(STACK) --exclude-protected $(PARALLEL)
