# Helpers for dom0/scenario.sh (bash). Output protocol, read by the host's report.py:
#   E2E-PLAN name...            the checks this run means to make (missing ones fail)
#   E2E-CHECK ok|fail NAME DETAIL
#   E2E-STAGE NAME SECONDS
#   E2E-METRIC NAME VALUE       (throughput etc., for the report)
#   E2E-INFO TEXT               (context for a human)
#   E2E-LOG TEXT                (log tails, printed when something failed)
# Under TCG every fork+exec in dom0 costs tens of milliseconds, so the helpers use bash
# builtins where they can and wait on xenstore watches instead of polling.

exec {NAP_FD}<> <(:)  # a pipe nobody writes: read -t on it is a sleep without exec
nap() { read -rt "$1" -u "$NAP_FD" _ || true; }
shopt -s extglob
uptime_s() { local up _; read -r up _ </proc/uptime; echo "$up"; }
since() {  # since UPTIME: seconds elapsed, one decimal (builtins only: /proc/uptime has 2)
  local now _ d; read -r now _ </proc/uptime
  d=$(( (10#${now/./} - 10#${1/./}) / 10 ))
  echo "$((d / 10)).$((d % 10))"
}

STAGE_NAME="" STAGE_T0=""
stage() {  # stage NAME: ends the current stage (printing its time) and starts NAME
  [ -n "$STAGE_NAME" ] && echo "E2E-STAGE $STAGE_NAME $(since "$STAGE_T0")"
  STAGE_NAME=$1 STAGE_T0=$(uptime_s)
  local load; read -r load </proc/loadavg
  [ -n "$STAGE_NAME" ] && echo "E2E-INFO stage $STAGE_NAME begins at uptime $STAGE_T0, dom0 load $load"
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
oneline() {  # oneline [N]: stdin as one line of at most N characters, without forking
  local text
  IFS= read -r -d '' text || true
  text=${text//$'\n'/ }; text=${text//+( )/ }
  printf '%s' "${text:0:${1:-400}}"
}

# wait_until SECONDS CMD...: retries CMD every 0.5 s until it succeeds; 1 on deadline.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    nap 0.5
  done
}

xsg() { xenstore-read "$@" 2>/dev/null; }  # empty output when the key is absent

# xs_wait PATH SECONDS [VALUE]: waits until PATH exists (and, with VALUE, holds VALUE),
# woken by a xenstore watch rather than by polling. Sets XS_VAL.
xs_wait() {
  local path=$1 secs=$2 want=${3-} deadline=$((SECONDS + $2))
  XS_VAL=$(xsg "$path")
  if [ -n "$XS_VAL" ] && { [ -z "$want" ] || [ "$XS_VAL" = "$want" ]; }; then return 0; fi
  coproc XSW { exec timeout "$secs" xenstore-watch "$path" 2>/dev/null; }
  local fd=${XSW[0]} pid=$XSW_PID
  while [ "$SECONDS" -lt "$deadline" ] && read -r -t $((deadline - SECONDS + 1)) -u "$fd" _; do
    XS_VAL=$(xsg "$path")
    if [ -n "$XS_VAL" ] && { [ -z "$want" ] || [ "$XS_VAL" = "$want" ]; }; then
      kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; return 0
    fi
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  return 1
}

# xs_gone PATH SECONDS: waits (on a watch) until PATH no longer exists.
xs_gone() {
  local path=$1 deadline=$((SECONDS + $2))
  xenstore-exists "$path" 2>/dev/null || return 0
  coproc XSG { exec timeout "$2" xenstore-watch "$path" 2>/dev/null; }
  local fd=${XSG[0]} pid=$XSG_PID rc=1
  while [ "$SECONDS" -lt "$deadline" ] && read -r -t $((deadline - SECONDS + 1)) -u "$fd" _; do
    xenstore-exists "$path" 2>/dev/null || { rc=0; break; }
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  return "$rc"
}

# --------------------------------------------------------------------- guests
declare -A DOM G_SEQ
# dom NAME: sets DOMID to the guest's domain id, asking xl once per incarnation (xl is
# slow). Call it directly, not in $(...), so the answer is remembered.
dom() {
  [ -n "${DOM[$1]:-}" ] || DOM[$1]=$(xl domid "$1" 2>/dev/null)
  DOMID=${DOM[$1]}
}
forget_dom() { unset "DOM[$1]"; G_SEQ[$1]=0; }

# g_run NAME TIMEOUT COMMAND: runs COMMAND (sh -c) in guest NAME through its agent
# (guest/agent.sh); sets G_RC (124: timed out in the guest, 125: no answer) and G_OUT.
g_run() {
  local name=$1 tmo=$2 cmd=$3 d seq rcpath
  G_RC=125 G_OUT=""
  dom "$name"; d=$DOMID
  [ -n "$d" ] || { G_OUT="no domain $name"; return 125; }
  seq=$(( ${G_SEQ[$name]:-0} + 1 )); G_SEQ[$name]=$seq
  rcpath=/local/domain/$d/data/e2e/rc
  # Watch first (its first event is the registration), then ask: no answer can be missed.
  coproc GW { exec timeout $((tmo + 15)) xenstore-watch "$rcpath" 2>/dev/null; }
  local fd=${GW[0]} pid=$GW_PID ans
  read -r -t 10 -u "$fd" _
  xenstore-write "/local/domain/$d/data/e2e/cmd" "$seq $tmo $cmd"
  while read -r -t $((tmo + 15)) -u "$fd" _; do
    ans=$(xsg "$rcpath")
    [ "${ans%% *}" = "$seq" ] && break
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  ans=$(xsg "$rcpath")
  if [ "${ans%% *}" = "$seq" ]; then
    G_RC=${ans#* }
    G_OUT=$(xenstore-read -R "/local/domain/$d/data/e2e/out" 2>/dev/null)
    return "$G_RC"
  fi
  G_OUT="agent in $name (domain $d) did not answer '${cmd:0:80}' within $((tmo + 15)) s"
  return 125
}

# g_ready NAME SECONDS: waits for the guest's agent to announce itself.
g_ready() {
  local d; dom "$1"; d=$DOMID
  [ -n "$d" ] && xs_wait "/local/domain/$d/data/e2e/ready" "$2" && G_SEQ[$1]=0
}

# ping_checks GUEST CHECK=PING_ARGS...: every probe in one agent round trip (guest/probe.sh);
# a check passes when all 5 probes were answered.
ping_checks() {
  local g=$1 spec cmd="" got; shift
  for spec in "$@"; do cmd+="probe ping ${spec%%=*} ${spec#*=}; "; done
  g_run "$g" $((15 * $#)) "$cmd"
  local -A rcvd; local tag nm cnt
  while read -r tag nm cnt; do [ "$tag" = R ] && rcvd[$nm]=$cnt; done <<<"$G_OUT"
  for spec in "$@"; do
    got=${rcvd[${spec%%=*}]:-}
    if [ "$got" = 5 ]; then ok "${spec%%=*}" "5/5 answered (ping ${spec#*=} from $g)"
    else fail "${spec%%=*}" "${got:-no result}/5 answered (ping ${spec#*=} from $g; agent rc $G_RC: $(oneline 200 <<<"$G_OUT"))"; fi
  done
}

# iperf_run GUEST DST: 3 s of TCP from GUEST to DST (guest/probe.sh); sets IP_BPS,
# IP_RETR, IP_SEGS (0 bytes: IP_SEGS=0 and IP_ERR says why).
iperf_run() {
  local tag bps retr bytes mss err line
  g_run "$1" 30 "probe iperf $2"
  tag="" IP_BPS=0 IP_RETR=0 IP_SEGS=0 IP_ERR=""
  while read -r line; do [ "${line:0:2}" = "I " ] && read -r tag bps retr bytes mss err <<<"$line"; done <<<"$G_OUT"
  bytes=${bytes%.*}
  if [ "$tag" != I ] || [ "${bytes:-0}" = 0 ]; then
    IP_ERR="no transfer (agent rc $G_RC): ${err:-} $(oneline 200 <<<"$G_OUT")"; return 1
  fi
  IP_BPS=${bps%.*} IP_RETR=$retr IP_SEGS=$((bytes / ${mss:-1448} + 1))
}

# iperf_compare FLOW GUEST VNET_DST BRIDGE_DST: the same flow through vnet and through the
# Linux bridge, interleaved vnet, bridge, bridge, vnet so that a drift of the emulation's
# speed during the measurement hits both alike. Checks iperf.vnet.FLOW and
# iperf.bridge.FLOW: retransmits (summed over both runs) must stay under 1% of the segments
# sent, or at most 2: the path is lossless and virtual, so a retransmit is a frame the
# switch or netback dropped, or a spurious timeout when the emulation stalls for a moment;
# the failure this guards against (offloads not matching the guest, seen in the feasibility
# run) retransmitted a third of everything. Sets RATIO (vnet/bridge, mean bit rates).
iperf_compare() {
  local flow=$1 g=$2 path dst name
  local -A bps=([vnet]=0 [bridge]=0) retr=([vnet]=0 [bridge]=0) segs=([vnet]=0 [bridge]=0) \
    runs=([vnet]=0 [bridge]=0) errs=()
  for path in vnet bridge bridge vnet; do
    if [ "$path" = vnet ]; then dst=$3; else dst=$4; fi
    if iperf_run "$g" "$dst"; then
      bps[$path]=$((bps[$path] + IP_BPS)) retr[$path]=$((retr[$path] + IP_RETR))
      segs[$path]=$((segs[$path] + IP_SEGS)) runs[$path]=$((runs[$path] + 1))
      metric "iperf.$path.$flow.bps" "$IP_BPS"
    else errs[$path]+="$IP_ERR; "; fi
  done
  for path in vnet bridge; do
    name=iperf.$path.$flow
    metric "$name.retransmits" "${retr[$path]}"; metric "$name.segments" "${segs[$path]}"
    if [ "${runs[$path]}" != 2 ]; then fail "$name" "${runs[$path]} of 2 runs transferred: ${errs[$path]:-}"; continue; fi
    bps[$path]=$((bps[$path] / 2))
    local detail="$((bps[$path] / 1000000)).$((bps[$path] / 100000 % 10)) Mbit/s (mean of 2), ${retr[$path]} retransmits of ~${segs[$path]} segments"
    if [ $((retr[$path] * 100)) -lt "${segs[$path]}" ] || [ "${retr[$path]}" -le 2 ]; then ok "$name" "$detail"
    else fail "$name" "$detail (bound: < 1% or <= 2)"; fi
  done
  RATIO=$(awk -v a="${bps[vnet]}" -v b="${bps[bridge]}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "nan" }')
  metric "ratio.$flow" "$RATIO"
}

# guest_nic_offloads GUEST on|off: the guest's own netfront features for both its vifs (tx
# checksum, scatter-gather, TSO): "off" is the talk's dumb virtual NIC, every frame a
# 1500-byte packet through netfront and netback. Prints what the guest then has.
guest_nic_offloads() {
  g_run "$1" 30 "for i in eth0 eth1; do /usr/bin/ethtool -K \$i tx $2 sg $2 tso $2 2>&1;
    /usr/bin/ethtool -k \$i | grep -E '^(tx-checksumming|scatter-gather|tcp-segmentation-offload):' | tr '\n' ' '; done"
  info "offload bench: $1 features $2: $(oneline 300 <<<"$G_OUT")"
}

# offload_bench VNET_DST BRIDGE_DST: the reference talk's transmit experiment under real
# Xen, numbers only (no check): g1 -> g2 TCP with both guests' NICs smart (all offloads,
# as negotiated) and dumb (tx/sg/tso off; netfront keeps IPv4 transmit checksum on),
# through vnet and through the bridge. Two rounds, modes
# in turn (smart, dumb, then dumb, smart) so that the emulation's drift hits both alike.
# Metrics bench.offload.MODE.PATH.bps (one per run) and .retransmits; report.py prints
# the table and the smart/dumb ratios.
offload_bench() {
  local mode path dst g
  for mode in smart dumb dumb smart; do
    for g in e2e-g1 e2e-g2; do
      if [ "$mode" = smart ]; then guest_nic_offloads "$g" on; else guest_nic_offloads "$g" off; fi
    done
    for path in vnet bridge; do
      if [ "$path" = vnet ]; then dst=$1; else dst=$2; fi
      if iperf_run e2e-g1 "$dst"; then
        metric "bench.offload.$mode.$path.bps" "$IP_BPS"
        metric "bench.offload.$mode.$path.retransmits" "$IP_RETR"
      else info "offload bench: $mode $path: $IP_ERR"; fi
    done
  done
}

# ------------------------------------------------------------------------ vnet
# vnetctl's own deadline (10 s) is short for a loaded TCG machine, where starting the
# client alone takes seconds: the test's calls get a minute.
vctl() { vnetctl --timeout 60 "$@"; }
ctx_json() { vctl context get --domain "$1" --device "$2" -o json 2>/dev/null; }
ctx_exists() { vctl context get --domain "$1" --device "$2" >/dev/null 2>&1; }
ctx_gone() {  # no such context: vnetd answers NOT_FOUND (exit 1 with "not found")
  local err
  err=$(vctl context get --domain "$1" --device "$2" 2>&1 >/dev/null) && return 1
  grep -q "has no context" <<<"$err"
}
ctx_ids() {
  vctl context list -o json 2>/dev/null \
    | jq -c '[.contexts[]? | [.id, .domain_id, .device_id, .interface_name]]'
}
# drop_total CONTEXT_ID: every drop counted for the context, all reasons and directions.
drop_total() {
  vctl stats "$1" -o json 2>/dev/null | jq -r '[.contexts[0].drops[]?.packets | tonumber] | add // 0'
}
