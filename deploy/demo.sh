#!/usr/bin/env bash
# The main job: install, build, run vnetd on its embedded defaults with a demo set of guests.
# Usage: deploy/demo.sh [--once]    (--once: show everything, tear down, exit)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "deploy/demo.sh: run as root (vnetd loads BPF programs and makes namespaces)" >&2
  exit 2
fi
bash "$root/deploy/install-deps.sh"
bash "$root/deploy/build.sh" "$root/build"
exec /usr/bin/python3 "$root/deploy/demo.py" --build-dir "$root/build" "$@"
