#!/bin/sh
# Inventory script for lab-backed Molecule scenarios: the inventory `lab/lab up` wrote
# for this scenario's lab (REMEDY_LAB_PREFIX), or an empty one before the lab exists
# (Molecule reads its inventory before prepare has started the lab).
set -eu
prefix="${REMEDY_LAB_PREFIX:-}"
if [ -n "${prefix}" ]; then
  inventory="${MOLECULE_PROJECT_DIRECTORY}/.cache/lab-${prefix%-}/inventory/hosts.yml"
else
  inventory="${MOLECULE_PROJECT_DIRECTORY}/inventory/lab/hosts.yml"
fi
if [ "${1:-}" = "--host" ]; then
  echo '{}'
elif [ -f "${inventory}" ]; then
  exec ansible-inventory -i "${inventory}" --list
else
  echo '{"_meta": {"hostvars": {}}}'
fi
