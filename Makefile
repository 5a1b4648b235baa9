# zstc: every target installs what it needs first; a second run reinstalls nothing unless the
# requirement files changed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
PYTHON_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# The pinned Node.js and CDK CLI from package.json come first, so jsii and cdk never run on the
# machine's end-of-life Node 20.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# Synth makes no network call: no CLI usage telemetry and no "newer version" check. cdk.json
# turns telemetry ("cli-telemetry": false) and notices ("notices": false) off for any cdk run;
# these cover a run from the Makefile even with another cdk.json setting.
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := true

CDK := $(CURDIR)/node_modules/.bin/cdk
LINTED := app.py stacks lambda inference_code zstc tests benchmarks scripts integ
MODEL ?=
# Extra CDK CLI arguments, e.g. CDK_ARGS="-c vpc=create -c model_weights=package".
CDK_ARGS ?=
# The recorded benchmark: every path on the same 64 texts; the report goes to docs/benchmarks.md.
BENCH_ARGS ?= --texts 64 --output docs/benchmarks.md

.PHONY: help install lint docs test synth deploy destroy demo bench clean integ integ-destroy

help:
	@echo "make demo     classify sample texts offline on the bundled model (no AWS account)"
	@echo "make test     install everything, lint, build the docs, and run the whole test suite"
	@echo "make synth    write every stack's CloudFormation template to cdk.out (no credentials)"
	@echo "make deploy   cdk deploy --all into the account of your AWS credentials"
	@echo "make destroy  delete every stack make deploy created (VPC included)"
	@echo "make bench    inference benchmark: stock pipeline vs zstc, pairs per second"
	@echo "make lint     ruff check, ruff format --check and mypy"
	@echo "make docs     build the documentation site (mkdocs, Material theme) into build/site"
	@echo "make integ    deploy a cheap copy into your AWS account, check every promise, destroy it"

# pip runs without --quiet so every download shows its progress: the first install fetches
# torch, several hundred MB even as the CPU-only build. PIP_EXTRA_INDEX_URL, PIP_INDEX_URL and
# other pip settings from the environment apply (README, "Install").
$(PYTHON_STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@echo "==> 1/3 Creating the virtualenv $(VENV)"
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --upgrade pip==25.3
	@echo "==> 2/3 Installing the pinned Python dependencies (requirements-dev.txt, constraints.txt)"
	$(PYTHON) -m pip install --progress-bar on -r requirements-dev.txt -c constraints.txt
	@echo "==> 3/3 Installing the zstc client (editable) as $(VENV)/bin/zstc"
	$(PYTHON) -m pip install --no-deps --no-build-isolation -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	@echo "==> Installing Node.js 22 and the AWS CDK CLI into node_modules"
	npm ci --no-audit --no-fund
	touch $@

install: $(PYTHON_STAMP) $(NODE_STAMP)

lint: install
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy app.py stacks inference_code zstc benchmarks scripts integ --exclude integ/checker && MYPYPATH=lambda/transform_trigger $(VENV)/bin/mypy lambda/transform_trigger
	MYPYPATH=lambda/endpoint_readiness $(VENV)/bin/mypy lambda/endpoint_readiness
	MYPYPATH=lambda/model_weights_copy $(VENV)/bin/mypy lambda/model_weights_copy
	MYPYPATH=lambda/network_interfaces_wait $(VENV)/bin/mypy lambda/network_interfaces_wait
	MYPYPATH=lambda/access_log_teardown $(VENV)/bin/mypy lambda/access_log_teardown
	MYPYPATH=integ/checker $(VENV)/bin/mypy integ/checker

# --strict (also set in mkdocs.yml) turns every warning into an error: a broken link or anchor, a
# nav entry without its page, a page left out of the nav. Not --quiet: it hides the warnings from
# --strict too. The build fetches nothing. NO_MKDOCS_2_WARNING silences Material's notice of its
# end of life (May 2027) on every build.
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

test: lint docs
	$(VENV)/bin/pytest

synth: install
	$(CDK) synth --quiet $(CDK_ARGS)

# deploy remembers its CDK_ARGS here, so destroy finds the same stacks (the stack prefix) even
# when it is run without them.
DEPLOYED_ARGS_FILE ?= .zstc-deployed-args

deploy: install
	$(file >$(DEPLOYED_ARGS_FILE),$(CDK_ARGS))
	$(CDK) deploy --all $(CDK_ARGS)

# Deletes every stack deploy can create (Network included, whatever -c vpc=... deploy had), by
# name: teardown mode builds no model archive and looks nothing up (stacks/teardown.py).
# First stops this deployment's running transform jobs (they outlive every stack) and lists the
# bootstrap-bucket assets that stay (scripts/destroy_preflight.py, docs/lifecycle.md).
DESTROY_PREFLIGHT ?= $(PYTHON) scripts/destroy_preflight.py
destroy: install
	$(DESTROY_PREFLIGHT) $(file <$(DEPLOYED_ARGS_FILE)) $(CDK_ARGS)
	$(CDK) destroy --all -c teardown=true $(file <$(DEPLOYED_ARGS_FILE)) $(CDK_ARGS)

demo: install
	$(PYTHON) -m zstc.demo $(if $(MODEL),--model $(MODEL))

# The integration run (README, "Verify in your account"): needs AWS credentials and a
# bootstrapped account; without credentials it stops before deploying anything.
integ: install
	$(PYTHON) -m integ.run

# Removes the integration stacks by hand, e.g. after an interrupted `make integ`.
integ-destroy: install
	$(CDK) destroy --all --force --app "$(PYTHON) integ/integ_zstc_flow.py" --output build/integ/cdk.out
	$(CDK) destroy --all --force --app "$(PYTHON) integ/serverless_minilm.py" --output build/integ-serverless/cdk.out

bench: install
	$(PYTHON) benchmarks/inference_benchmark.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules cdk.out build
