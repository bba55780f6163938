#!/bin/sh
# cleanup_check.sh TAG: exit 1 and list what is left (namespaces, links, routes, BPF pins,
# temp dirs) carrying a run tag or run prefix of the netns harness, e.g. "vb4711" or
# "vt4711a"; exit 0 when nothing is left. Extra paths to check may follow the tag.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 TAG [PATH...]" >&2; exit 2; }
here=$(dirname "$0")
exec /usr/bin/python3 "$here/topology.py" check "$@"
