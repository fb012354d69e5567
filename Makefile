# remedy.k3s: the commands the README shows. Each target does its own set-up.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ENV := source scripts/env.sh &&
PYTEST_ARGS ?=

.PHONY: help setup demo test lint unit lab-test molecule lab-up lab-break lab-status lab-down build clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

setup:  ## Install everything the project needs (idempotent)
	scripts/setup

demo: setup  ## The main job: build the lab, break it as the incident, run recover.yml on it
	scripts/demo

test: setup  ## Every gate and test: lint, syntax, build, unit, lab, Molecule (pytest)
	$(ENV) pytest $(PYTEST_ARGS)

lint: setup  ## Only the lint and build gates
	$(ENV) pytest tests/gates $(PYTEST_ARGS)

unit: setup  ## Only the fast tests (no containers)
	$(ENV) pytest -m 'not podman' $(PYTEST_ARGS)

lab-test: setup  ## Only the incident lab's own tests
	$(ENV) pytest tests/lab $(PYTEST_ARGS)

molecule: setup  ## Only the Molecule scenarios
	$(ENV) pytest tests/molecule $(PYTEST_ARGS)

lab-up: setup  ## Start the incident lab (three Ready nodes)
	$(ENV) lab/lab up

lab-break: setup  ## Break the lab: make lab-break SCENARIO=incident
	$(ENV) lab/lab break $(or $(SCENARIO),incident)

lab-status:  ## One-screen summary of the lab
	$(ENV) lab/lab status

lab-down:  ## Remove the lab's containers and network
	$(ENV) lab/lab down

build: setup  ## Build the collection artifact (remedy-k3s-<version>.tar.gz)
	$(ENV) ansible-galaxy collection build --force --output-path build .

clean:  ## Remove local state: labs' files, reports, builds (.venv and the image stay)
	rm -rf .cache/lab .cache/lab-* inventory/lab build reports .pytest_cache .ruff_cache
