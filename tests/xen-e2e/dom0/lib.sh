# Helpers for dom0/scenario.sh (bash). Output protocol, read by the host's report.py:
#   E2E-PLAN name...            the checks this run means to make (missing ones fail)
#   E2E-CHECK ok|fail NAME DETAIL
#   E2E-STAGE NAME SECONDS
#   E2E-METRIC NAME VALUE       (throughput etc., for the report)
#   E2E-INFO TEXT               (context for a human)

uptime_s() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }'; }

STAGE_NAME="" STAGE_T0=""
stage() {  # stage NAME: ends the current stage (printing its time) and starts NAME
  [ -n "$STAGE_NAME" ] && echo "E2E-STAGE $STAGE_NAME $(since "$STAGE_T0")"
  STAGE_NAME=$1 STAGE_T0=$(uptime_s)
  [ -n "$STAGE_NAME" ] && echo "E2E-INFO stage $STAGE_NAME begins at uptime $STAGE_T0"
  return 0
}

FAILS=0
ok() { echo "E2E-CHECK ok $1 ${*:2}"; }
fail() { echo "E2E-CHECK fail $1 ${*:2}"; FAILS=$((FAILS + 1)); }
check() {  # check NAME CONDITION_RC DETAIL
  if [ "$2" -eq 0 ]; then ok "$1" "${@:3}"; else fail "$1" "${@:3}"; fi
}
info() { echo "E2E-INFO $*"; }
metric() { echo "E2E-METRIC $1 $2"; }
oneline() { tr '\n' ' ' | tr -s ' ' | cut -c1-"${1:-400}"; }

# wait_until SECONDS CMD...: polls CMD every 0.3 s until it succeeds; 1 on deadline.
wait_until() {
  local deadline=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.3
  done
}

# --------------------------------------------------------------------- guests
domid() { xl domid "$1" 2>/dev/null; }
xsg() { xenstore-read "$@" 2>/dev/null; }  # empty output when the key is absent

# g_run NAME TIMEOUT COMMAND: runs COMMAND in guest NAME through its agent (guest/agent.sh);
# sets G_RC (124 = timed out in the guest, 125 = agent did not answer) and G_OUT.
declare -A G_SEQ
g_run() {
  local name=$1 tmo=$2 cmd=$3 d seq deadline ans
  G_RC=125 G_OUT=""
  d=$(domid "$name") || { G_OUT="no domain $name"; return 125; }
  seq=$(( ${G_SEQ[$name]:-0} + 1 )); G_SEQ[$name]=$seq
  xenstore-write "/local/domain/$d/data/e2e/cmd" "$seq $tmo $cmd"
  deadline=$(($(date +%s) + tmo + 15))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    ans=$(xsg "/local/domain/$d/data/e2e/rc")
    if [ "${ans%% *}" = "$seq" ]; then
      G_RC=${ans#* }
      G_OUT=$(xenstore-read -R "/local/domain/$d/data/e2e/out" 2>/dev/null)
      return "$G_RC"
    fi
    sleep 0.2
  done
  G_OUT="agent in $name (domain $d) did not answer '$cmd' within $((tmo + 15)) s"
  return 125
}

# g_ready NAME SECONDS: waits for the guest's agent to announce itself.
g_ready() {
  local name=$1 d
  wait_until "$2" sh -c "d=\$(xl domid $name) && xenstore-read /local/domain/\$d/data/e2e/ready" \
    || return 1
  G_SEQ[$name]=0
}

# xl_create NAME CFG: creates a domain with a bounded wait; output in XL_OUT.
xl_create() {
  XL_OUT=$(timeout 90 xl create "$2" 2>&1)
}

# ping_ok NAME ARGS...: ping inside guest NAME; 0 when every probe was answered.
ping_ok() {
  local name=$1; shift
  g_run "$name" 30 "ping -q $*"
}

# ------------------------------------------------------------------------ vnet
ctx_json() { vnetctl context get --domain "$1" --device "$2" -o json 2>/dev/null; }
ctx_exists() { vnetctl context get --domain "$1" --device "$2" >/dev/null 2>&1; }
# drop_total CONTEXT_ID: every drop counted for the context (reasons and rate limit).
drop_total() {
  vnetctl stats "$1" -o json 2>/dev/null | jq -r '
    [.contexts[0].drops[]?.packets | tonumber] + [(.contexts[0].rate_limit_drops // 0) | tonumber]
    | add // 0'
}
