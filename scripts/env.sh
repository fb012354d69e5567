# Environment for working in a remedy.k3s checkout: `source scripts/env.sh`.
# Every project command (Makefile, .ci/run, lab/lab, scripts/*) sources it, so a shell
# that did the same sees exactly what they see.

REMEDY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REMEDY_ROOT
# REMEDY_VENV may point elsewhere, but a value that sourcing another checkout left in this
# shell is not a choice: that checkout's venv would silently run this one's tests.
if [ -z "${REMEDY_VENV:-}" ] || { [ -n "${REMEDY_VENV_OF:-}" ] && [ "${REMEDY_VENV_OF}" != "${REMEDY_ROOT}" ]; }; then
  REMEDY_VENV="${REMEDY_ROOT}/.venv"
  export REMEDY_VENV_OF="${REMEDY_ROOT}"
fi
export REMEDY_VENV
# Podman reads the project's configuration instead of /etc (scripts/setup writes it).
export CONTAINERS_CONF="${REMEDY_ROOT}/.cache/containers/containers.conf"
# Shared between clones on one machine, so a fresh clone reuses a built node image.
export REMEDY_IMAGE_CACHE="${REMEDY_IMAGE_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/remedy-k3s}"
export REMEDY_NODE_IMAGE="${REMEDY_NODE_IMAGE:-localhost/remedy-k3s-node:bookworm}"
export ANSIBLE_CONFIG="${REMEDY_ROOT}/ansible.cfg"
case ":${PATH}:" in
  *":${REMEDY_VENV}/bin:"*) ;;
  *) export PATH="${REMEDY_VENV}/bin:${PATH}" ;;
esac
