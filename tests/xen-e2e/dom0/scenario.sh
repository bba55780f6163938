#!/bin/bash
# The end-to-end scenario, run by dom0's /init once the modules are loaded: Xen daemons,
# vnetd with a veth uplink into a "wire" namespace, two PV guests plugged in by xl through
# the real vif-vnet, then every check. For the throughput ratio the same two guests get a
# second vif through Xen's own vif-bridge into a Linux bridge (same boot, same guests).
# Prints E2E-* markers (lib.sh); the host (report.py) decides pass or fail.
set -u
. /e2e/lib.sh

PLAN="xen.daemons vnetd.start
 guests.create.g1 guests.create.g2 guests.agent.g1 guests.agent.g2
 context.spec.g1 context.spec.g2 offloads.connect.g1 offloads.connect.g2
 ping.v4.g1-g2 ping.v6.g1-g2 ping.v4.g1-wire ping.v6.g1-wire ping.v4.g2-wire ping.v6.g2-wire
 bridge.attach bridge.no_context bridge.ping iperf.vnet.g1-g2 iperf.bridge.g1-g2
 iperf.vnet.g1-wire iperf.bridge.g1-wire
 bridge.detach throughput.vnet_vs_bridge
 spoof.blocked spoof.unseen spoof.counted spoof.restored
 reconnect.netfront offloads.reconnect.g1 reconnect.ping
 restart.flow restart.contexts offloads.restart.g1
 hotplug.attach hotplug.attach.spec hotplug.attach.ping hotplug.detach
 lifecycle.reboot lifecycle.reboot.ping lifecycle.shutdown lifecycle.destroy lifecycle.empty"
echo "E2E-PLAN" $PLAN

VLAN=10
UPLINK=vnup0
VNETD_LOG=/var/log/vnetd.log
mkdir -p /etc/xen/e2e /var/log/xen/console /var/lib/xen /var/lib/xenstored /run/xen

dump_logs() {  # context for whoever reads a failure
  echo "E2E-LOG ---- vnetd log tail"; tail -n 30 "$VNETD_LOG" 2>/dev/null | sed 's/^/E2E-LOG /'
  echo "E2E-LOG ---- hotplug errors (xl)"
  grep -hiE 'error|fail|vif-vnet|vif-bridge' /var/log/xen/e2e-*.log 2>/dev/null \
    | tail -n 20 | sed 's/^/E2E-LOG /'
  echo "E2E-LOG ---- dom0 kernel log tail"; dmesg | tail -n 25 | sed 's/^/E2E-LOG /'
  local f
  for f in /var/log/xen/console/guest-*.log; do
    [ -f "$f" ] || continue
    echo "E2E-LOG ---- $(basename "$f") tail"; tail -n 6 "$f" | sed 's/^/E2E-LOG /'
  done
}
finish() {  # finish: end the stage, dump logs on failure, leave with the failure count
  stage ""
  [ "$FAILS" -eq 0 ] || dump_logs
  exit "$FAILS"
}

# ------------------------------------------------------------------ Xen daemons
stage xen-daemons
xenstored --pid-file /run/xenstored.pid
wait_until 20 xenstore-ls /local
xen-init-dom0 >/var/log/xen/xen-init-dom0.log 2>&1
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
if xl info >/var/log/xen/xl-info.log 2>&1 && xsg /local/domain/0/name >/dev/null; then
  ok xen.daemons "$(grep -E '^xen_version' /var/log/xen/xl-info.log | oneline 60)"
else
  fail xen.daemons "xl info: $(tail -n 3 /var/log/xen/xl-info.log | oneline)"; finish
fi

# ------------------------------------------------------------------ wire and vnetd
stage vnetd-start
# wire_ns NS DOM0_IF NS_IF V4/N V6/M: a namespace standing for the physical network.
wire_ns() {
  ip netns add "$1"
  ip link add "$2" type veth peer name "$3" netns "$1"
  ip -n "$1" link set lo up
  ip -n "$1" addr add "$4" dev "$3"
  ip -n "$1" -6 addr add "$5" dev "$3" nodad
  ip -n "$1" link set "$3" up
  ip link set "$2" up
  ip netns exec "$1" iperf3 -s -D
}
wire_ns wire "$UPLINK" wire0 198.18.0.254/24 2001:db8::fe/64
VNETD_ARGS=(--uplink "$UPLINK" --native_vlan "$VLAN")
[ -n "${E2E_TC_ATTACH:-}" ] && VNETD_ARGS+=(--tc_attach "$E2E_TC_ATTACH")
if [ "${E2E_NO_UPLINK:-}" = 1 ]; then
  # Debugging aid only (VNET_XEN_E2E_NO_UPLINK=1): reach the later checks when the uplink
  # cannot be attached. The run cannot pass this way: the wire checks fail, and so does this.
  VNETD_ARGS=(--native_vlan "$VLAN")
  fail config.uplink "debug mode: vnetd started without --uplink (VNET_XEN_E2E_NO_UPLINK=1)"
fi
start_vnetd() {  # as shipped: default socket and state dir
  vnetd "${VNETD_ARGS[@]}" >>"$VNETD_LOG" 2>&1 &
  VNETD_PID=$!
  # An ASan build under TCG starts slowly: allow 90 s, but stop as soon as it has exited.
  local deadline=$((SECONDS + 90))
  until vnetctl status >/dev/null 2>&1; do
    kill -0 "$VNETD_PID" 2>/dev/null || return 1
    [ "$SECONDS" -ge "$deadline" ] && return 1
    nap 0.5
  done
}
if start_vnetd; then
  t0=$(uptime_s); vnetctl status >/dev/null 2>&1
  info "one vnetctl call takes $(since "$t0") s here (TCG)"
  ok vnetd.start "pid $VNETD_PID; $(vnetctl status 2>&1 | grep -E 'fast path|uplink' | oneline)"
else
  fail vnetd.start "vnetd did not come up (pid $VNETD_PID $(kill -0 "$VNETD_PID" 2>/dev/null \
    && echo alive || echo exited)); log: $(grep -vE 'skipping unrecognized data section' "$VNETD_LOG" | tail -n 8 | oneline 900)"
  finish
fi

# ------------------------------------------------------------------ guests
# guest_cfg NAME IP4/N IP6/M VIF: writes /etc/xen/e2e/NAME.cfg (PV, dom0's own kernel).
guest_cfg() {
  cat >"/etc/xen/e2e/$1.cfg" <<CFG
name = "$1"
type = "pv"
kernel = "/e2e/vmlinux"
ramdisk = "/e2e/domU.cpio"
extra = "console=hvc0 rdinit=/init quiet e2e.ip4=$2 e2e.ip6=$3"
memory = 160
vcpus = 1
vif = [ '$4' ]
on_crash = "destroy"
CFG
}
G1_VIF="mac=00:16:3e:e2:00:01,ip=198.18.0.1 2001:db8::1,script=vif-vnet,bridge=xenbr0.$VLAN,mtu=1500,vifname=vn-g1"
G2_VIF="mac=00:16:3e:e2:00:02,ip=198.18.0.2 2001:db8::2,script=vif-vnet,bridge=xenbr0.$VLAN,rate=1000Mb/s"
guest_cfg e2e-g1 198.18.0.1/24 2001:db8::1/64 "$G1_VIF"
guest_cfg e2e-g2 198.18.0.2/24 2001:db8::2/64 "$G2_VIF"

stage create-guests
# Strictly one after the other, each guest booted before the next is created: libxl kills
# a hotplug script after 40 s, and under TCG a guest booting alongside pushed vif-vnet
# past that (seen: "killing execution of /etc/xen/scripts/vif-vnet online because of timeout").
for g in g1 g2; do
  t0=$SECONDS
  if timeout 240 xl -v create "/etc/xen/e2e/e2e-$g.cfg" >"/var/log/xen/e2e-create-$g.log" 2>&1; then
    dom "e2e-$g"; ok "guests.create.$g" "domain $DOMID in $((SECONDS - t0)) s"
  else
    fail "guests.create.$g" "xl create ($((SECONDS - t0)) s): $(grep -vE '^(Parsing|libxl: debug)' "/var/log/xen/e2e-create-$g.log" | tail -n 4 | oneline 600)"
  fi
  t0=$SECONDS
  if g_ready "e2e-$g" 120; then ok "guests.agent.$g" "agent answered $((SECONDS - t0)) s after create"
  else fail "guests.agent.$g" "no agent within 120 s; console: $(tail -n 3 "/var/log/xen/console/guest-e2e-$g.log" 2>/dev/null | oneline)"; fi
done
dom e2e-g1; D1=$DOMID; dom e2e-g2; D2=$DOMID
if [ -z "$D1" ] || [ -z "$D2" ]; then finish; fi

# ------------------------------------------------------------------ contexts
stage contexts
# spec_check CHECK DOM DEV IFNAME MAC V4 V6 VLAN MTU BITS_PER_SECOND
spec_check() {
  local name=$1 exp got hs linkmtu
  exp="$4|$5|$6|$7|$8|$9|${10}"
  got=$(ctx_json "$2" "$3" | jq -r '[.interface_name, .mac, (.ipv4_addresses | join(" ")),
          (.ipv6_addresses | join(" ")), .vlan, .mtu, (.rate_limit.bits_per_second // 0)]
          | map(tostring) | join("|")')
  hs=$(xsg "/local/domain/0/backend/vif/$2/$3/hotplug-status")
  read -r linkmtu <"/sys/class/net/$4/mtu" 2>/dev/null
  if [ "$got" = "$exp" ] && [ "$hs" = connected ] && [ "${linkmtu:-}" = "$9" ]; then
    ok "$name" "$got hotplug-status=$hs"
  else
    fail "$name" "expected '$exp' got '$got'; hotplug-status='$hs'; $4 mtu='${linkmtu:-}'"
  fi
}
spec_check context.spec.g1 "$D1" 0 vn-g1 00:16:3e:e2:00:01 198.18.0.1 2001:db8::1 "$VLAN" 1500 0
spec_check context.spec.g2 "$D2" 0 "vif$D2.0" 00:16:3e:e2:00:02 198.18.0.2 2001:db8::2 "$VLAN" 1500 1000000000

# xs_keys ARRAY PATH: one xenstore directory into an associative array, in one exec.
xs_keys() {
  local -n _keys=$1
  local line re='^([^ ]+) = "(.*)"$'
  while IFS= read -r line; do
    [[ $line =~ $re ]] && _keys[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
  done < <(xenstore-ls "$2" 2>/dev/null)
}
OFFLOAD_FIELDS="tx_checksum tso_v4 tso_v6 scatter_gather rx_checksum rx_scatter_gather rx_tso_v4 rx_tso_v6"
# offloads_expected DOM DEV: sets EXPECTED to "field=bool ..." (OFFLOAD_FIELDS order) as both
# sides' xenstore keys imply: guest transmit follows what netback (backend) accepts, guest
# receive what netfront (frontend) accepts.
offloads_expected() {
  local -A b=() f=()
  xs_keys b "/local/domain/0/backend/vif/$1/$2"
  xs_keys f "${b[frontend]:-/local/domain/$1/device/vif/$2}"
  is1() { if [ "${1:-}" = 1 ]; then v=true; else v=false; fi; }
  local v rx=false
  [ "${f[feature-no-csum-offload]:-0}" != 1 ] && [ "${f[feature-ipv6-csum-offload]:-}" = 1 ] && rx=true
  EXPECTED="tx_checksum=true"
  is1 "${b[feature-gso-tcpv4]:-}"; EXPECTED+=" tso_v4=$v"
  is1 "${b[feature-gso-tcpv6]:-}"; EXPECTED+=" tso_v6=$v"
  is1 "${b[feature-sg]:-}"; EXPECTED+=" scatter_gather=$v rx_checksum=$rx"
  is1 "${f[feature-sg]:-}"; EXPECTED+=" rx_scatter_gather=$v"
  is1 "${f[feature-gso-tcpv4]:-}"; EXPECTED+=" rx_tso_v4=$v"
  is1 "${f[feature-gso-tcpv6]:-}"; EXPECTED+=" rx_tso_v6=$v"
}
offloads_actual() {  # offloads_actual JSON: the same fields from vnetctl (absent = false)
  jq -r --arg f "$OFFLOAD_FIELDS" '(.offloads // {}) as $o
    | [$f | split(" ")[] | "\(.)=\($o[.] // false)"] | join(" ")' <<<"$1"
}
# offload_check CHECK DOM DEV: once the frontend is connected (state 4), gives vnetd (its
# xenstore watch) up to 15 s to bring the context's offloads in line with the keys.
offload_check() {
  local name=$1 d=$2 n=$3 fe act j deadline t0=$SECONDS tries=0
  fe=$(xsg "/local/domain/0/backend/vif/$d/$n/frontend")
  if ! xs_wait "$fe/state" 60 4; then
    fail "$name" "frontend $fe never reached state 4 (now '$(xsg "$fe/state")')"; return
  fi
  deadline=$((SECONDS + 15))
  while :; do
    tries=$((tries + 1))
    j=$(ctx_json "$d" "$n"); offloads_expected "$d" "$n"; act=$(offloads_actual "$j")
    [ -n "$j" ] && [ "$EXPECTED" = "$act" ] || [ "$SECONDS" -ge "$deadline" ] && break
    nap 1
  done
  if [ -n "$j" ] && [ "$EXPECTED" = "$act" ]; then
    local kv on=""
    for kv in $act; do [ "${kv#*=}" = true ] && on+="${kv%%=*} "; done
    ok "$name" "match xenstore; on: ${on:-none}"
  elif [ -z "$j" ]; then
    fail "$name" "vnetctl context get --domain $d --device $n answered nothing ($tries tries, $((SECONDS - t0)) s)"
  else
    local -A A=(); local kv diff=""
    for kv in $act; do A[${kv%%=*}]=${kv#*=}; done
    for kv in $EXPECTED; do
      [ "${A[${kv%%=*}]:-}" = "${kv#*=}" ] || diff+="${kv%%=*}: xenstore says ${kv#*=}, vnetd ${A[${kv%%=*}]:-?}; "
    done
    fail "$name" "$diff(offloads in JSON: $(jq -c '.offloads // {}' <<<"$j"); $tries tries, $((SECONDS - t0)) s)"
  fi
  info "$name effective_offloads=$(jq -c '.effective_offloads // {}' <<<"$j")"
}
offload_check offloads.connect.g1 "$D1" 0
offload_check offloads.connect.g2 "$D2" 0
info "ethtool -k vn-g1: $(ethtool -k vn-g1 2>/dev/null | grep -E '^(tx-checksumming|scatter-gather|tcp-segmentation-offload):' | oneline)"
info "delivery: $(ethtool -i vn-g1 2>/dev/null | grep -E '^driver' | oneline) (netback, not a veth);" \
  "tc ingress on vn-g1: $(tc filter show dev vn-g1 ingress 2>/dev/null | grep -oE 'bpf name [^ ]+|direct-action' | oneline)" \
  "tcx links vnet pinned: $(ls /sys/fs/bpf/vnet/links 2>/dev/null | oneline)"

# ------------------------------------------------------------------ traffic through vnet
stage traffic-vnet
ping_checks e2e-g1 ping.v4.g1-g2=198.18.0.2 "ping.v6.g1-g2=-6 2001:db8::2" \
  ping.v4.g1-wire=198.18.0.254 "ping.v6.g1-wire=-6 2001:db8::fe"
ping_checks e2e-g2 ping.v4.g2-wire=198.18.0.254 "ping.v6.g2-wire=-6 2001:db8::fe"
info "stats after pings: $(vctl stats 2>&1 | oneline 600)"

# ------------------------------------------------------------------ the Linux bridge
# The same two guests get a second vif (devid 1) through Xen's own vif-bridge into xenbr1,
# with its own wire namespace: same boot, same guest kernels, only dom0's switch differs.
stage bridge
wire_ns wireb vbrup wireb0 198.18.1.254/24 2001:db8:1::fe/64
ip link add xenbr1 type bridge stp_state 0 forward_delay 0
ip link set vbrup master xenbr1
ip link set xenbr1 up
battach=0
for g in 1 2; do
  dom "e2e-g$g"; d=$DOMID
  # xl network-attach takes one KEY=VALUE per argument (a config file's vif line uses commas).
  nic=(devid=1 "mac=00:16:3e:e2:01:0$g" "ip=198.18.1.$g 2001:db8:1::$g" script=vif-bridge bridge=xenbr1)
  [ "$g" = 2 ] && nic+=(rate=1000Mb/s)
  timeout 90 xl network-attach "e2e-g$g" "${nic[@]}" >"/var/log/xen/e2e-battach-g$g.log" 2>&1 || battach=1
  xs_wait "/local/domain/0/backend/vif/$d/1/hotplug-status" 30 connected || battach=1
  g_run "e2e-g$g" 30 "i=0; while [ ! -e /sys/class/net/eth1 ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
    /usr/bin/ip addr add 198.18.1.$g/24 dev eth1 && /usr/bin/ip -6 addr add 2001:db8:1::$g/64 dev eth1 nodad &&
    /usr/bin/ip link set eth1 up" || battach=1
done
check bridge.attach "$battach" "vif-bridge vifs on xenbr1: $(ip -o link show master xenbr1 | awk -F': ' '{print $2}' | oneline)" \
  "$( [ "$battach" = 0 ] || cat /var/log/xen/e2e-battach-g*.log | tail -n 4 | oneline)"
# A domain with one vif of each kind: vnet must hold a context for vif 0 only.
ids=$(ctx_ids)
if jq -e --argjson d1 "$D1" --argjson d2 "$D2" '([.[] | select(.[2] != 0)] | length == 0)
     and ([.[] | .[1]] | sort == ([$d1, $d2] | sort))' <<<"$ids" >/dev/null; then
  ok bridge.no_context "vnet contexts for the vnet vifs only: $ids"
else fail bridge.no_context "contexts: ${ids:-<none>}"; fi
ping_checks e2e-g1 bridge.ping=198.18.1.2
# TCP through vnet and through the bridge, interleaved (lib.sh iperf_compare).
iperf_compare g1-g2 e2e-g1 198.18.0.2 198.18.1.2; rg=$RATIO
iperf_compare g1-wire e2e-g1 198.18.0.254 198.18.1.254; rw=$RATIO
# Opt-in (VNET_XEN_E2E_BENCH=offload on the host): smart vs dumb virtual NIC, numbers only.
[ "${E2E_BENCH:-}" = offload ] && offload_bench 198.18.0.2 198.18.1.2
info "stats after TCP: $(vctl stats 2>&1 | oneline 600)"
bdetach=0
for g in 1 2; do
  timeout 60 xl network-detach "e2e-g$g" 1 >/dev/null 2>&1 || bdetach=1
done
wait_until 20 sh -c "[ -z \"\$(ip -o link show master xenbr1 | grep -v vbrup)\" ]" || bdetach=1
check bridge.detach "$bdetach" "bridge vifs detached; left on xenbr1: $(ip -o link show master xenbr1 | awk -F': ' '{print $2}' | oneline)"
# vnet must not be a large step down from the bridge it replaces. The bound guards against
# the class of failure seen before (offloads not following Xen: ~1/200 of the bridge); the
# ratios themselves are the result (docs/benchmarks.md). Measured: 0.8-1.5 on 6.1 and on
# 6.12 before tcx, 0.39 guest->guest on 6.12 with tcx while the host ran the ASan suite:
# under investigation, so the bound is not tighter than that.
if awk -v a="$rg" -v b="$rw" 'BEGIN { exit !(a + 0 >= 0.25 && b + 0 >= 0.25) }'; then
  ok throughput.vnet_vs_bridge "vnet/bridge guest->guest $rg, guest->wire $rw (bound >= 0.25)"
else
  fail throughput.vnet_vs_bridge "vnet/bridge guest->guest $rg, guest->wire $rw (bound >= 0.25)"
fi

# ------------------------------------------------------------------ spoofing
stage spoofing
SPOOF_MAC=00:16:3e:e2:0f:99
# Frames that carry the spoofed identity as their source (for ARP, `src host` is the sender
# address). Not `host`: g2's own ARP asking for .99, from its real MAC and address, is legal
# and is flooded (seen once on 6.1: "who-has 198.18.0.99 tell 198.18.0.2" on g1 and the wire).
FILTER="ether src $SPOOF_MAC or src host 198.18.0.99 or src host 2001:db8::99"
G2_CTX=$(ctx_json "$D2" 0 | jq -r .id)
drops_before=$(drop_total "$G2_CTX")
CAPS=()
capture() {  # capture FILE IFACE [NETNS]: tcpdump of the spoof filter, in the background
  local pre=(); [ -n "${3:-}" ] && pre=(ip netns exec "$3")
  "${pre[@]}" timeout 60 tcpdump -Z root -i "$2" -n -p -l $FILTER >"$1" 2>"$1.err" &
  CAPS+=($!)
}
capture /tmp/cap-g1 vn-g1
capture /tmp/cap-wire wire0 wire
capture /tmp/cap-g2 "vif$D2.0"
wait_until 20 sh -c "grep -q listening /tmp/cap-g1.err && grep -q listening /tmp/cap-wire.err && grep -q listening /tmp/cap-g2.err"
IPG=/usr/bin/ip
g_run e2e-g2 60 "
  $IPG link set eth0 down; $IPG link set eth0 address $SPOOF_MAC; $IPG link set eth0 up
  probe spoof mac-g1 198.18.0.1; probe spoof mac-wire 198.18.0.254
  $IPG link set eth0 down; $IPG link set eth0 address 00:16:3e:e2:00:02; $IPG link set eth0 up
  $IPG addr add 198.18.0.99/32 dev eth0
  probe spoof ip4-g1 -I 198.18.0.99 198.18.0.1; probe spoof ip4-wire -I 198.18.0.99 198.18.0.254
  $IPG addr del 198.18.0.99/32 dev eth0
  $IPG -6 addr add 2001:db8::99/128 dev eth0 nodad
  probe spoof ip6-g1 -6 -I 2001:db8::99 2001:db8::1; probe spoof ip6-wire -6 -I 2001:db8::99 2001:db8::fe
  $IPG -6 addr del 2001:db8::99/128 dev eth0"
spoof_out=$G_OUT
nap 2
kill "${CAPS[@]}" 2>/dev/null; wait "${CAPS[@]}" 2>/dev/null
runs=$(grep -c '^R ' <<<"$spoof_out") answered=$(awk '$1 == "R" {s += $3} END {print s + 0}' <<<"$spoof_out")
if [ "$runs" = 6 ] && [ "$answered" = 0 ]; then ok spoof.blocked "6 spoofing runs (MAC, IPv4, IPv6; to g1 and wire), 0 answered"
else fail spoof.blocked "$runs runs, $answered answered: $(grep '^R ' <<<"$spoof_out" | oneline) $(grep -v '^R ' <<<"$spoof_out" | oneline 200)"; fi
# Non-empty lines: tcpdump ends its output with an empty line when stopped.
seen_g1=$(grep -c . /tmp/cap-g1) seen_wire=$(grep -c . /tmp/cap-wire) sent=$(grep -c . /tmp/cap-g2)
if [ "$sent" -gt 0 ] && [ "$seen_g1" = 0 ] && [ "$seen_wire" = 0 ]; then
  ok spoof.unseen "g2's vif saw $sent spoofed frames; g1's vif 0, the wire 0"
else
  fail spoof.unseen "g2's vif saw $sent (must be > 0); g1's vif $seen_g1, wire $seen_wire (must be 0): $(head -n 2 /tmp/cap-g1 /tmp/cap-wire | oneline) $(cat /tmp/cap-*.err | grep -v listening | oneline 200)"
fi
drops_after=$(drop_total "$G2_CTX")
if [ "${drops_after:-0}" -gt "${drops_before:-0}" ]; then
  ok spoof.counted "drops $drops_before -> $drops_after: $(vctl stats "$G2_CTX" -o json | jq -c '[.contexts[0].drops[]? | "\(.reason)=\(.packets)"]')"
else
  fail spoof.counted "drop counters did not grow ($drops_before -> $drops_after): $(vctl stats "$G2_CTX" -o json 2>&1 | jq -c '.contexts[0]' 2>&1 | oneline)"
fi
ping_checks e2e-g2 spoof.restored=198.18.0.1

# ------------------------------------------------------------------ frontend reconnect
stage reconnect
# xenbus holds a reference on netfront while a device is bound: unbind first, then the
# module goes out and comes back, and netfront connects again from scratch.
g_run e2e-g1 60 "dev=\$(basename \$(readlink /sys/class/net/eth0/device)) &&
  echo \$dev >/sys/bus/xen/drivers/vif/unbind && rmmod xen_netfront &&
  insmod /lib/modules/e2e/xen-netfront.ko &&
  i=0; while [ ! -e /sys/class/net/eth0 ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done;
  $IPG addr add 198.18.0.1/24 dev eth0 && $IPG -6 addr add 2001:db8::1/64 dev eth0 nodad &&
  $IPG link set eth0 up && echo reconnected \$dev"
check reconnect.netfront "$G_RC" "unbind, rmmod, insmod xen-netfront, addresses re-added: rc=$G_RC $(oneline 200 <<<"$G_OUT")"
offload_check offloads.reconnect.g1 "$D1" 0
ping_checks e2e-g1 reconnect.ping=198.18.0.2

# ------------------------------------------------------------------ vnetd kill -9 and restart
stage vnetd-restart
ids_before=$(ctx_ids)
# A probe every 0.2 s (at most 900: bounded) from g1 to g2 across the kill and the restart,
# and for 5 s after vnetd is back; then the guest stops it (SIGINT) and reports which
# probes were answered. Every probe but the last (still in flight when stopped) must be,
# bar one: the emulation may stall a reply past -W 1 in the instant of the kill.
g_run e2e-g1 10 "/usr/bin/ping -c 900 -i 0.2 -W 1 198.18.0.2 >/tmp/flow.out 2>&1 &"
nap 3
kill -9 "$VNETD_PID"; wait "$VNETD_PID" 2>/dev/null
t0=$SECONDS
info "vnetd killed (-9) during the g1 -> g2 flow"
if start_vnetd; then info "vnetd restarted, pid $VNETD_PID, $((SECONDS - t0)) s after the kill"
else info "vnetd did not come back: $(tail -n 5 "$VNETD_LOG" | oneline)"; fi
nap 5
# The guest counts (its agent returns only the output's last 1500 bytes): "FLOW TX ANSWERED"
# with ANSWERED the distinct probes answered among 1 .. TX-1 (iputils numbers from 1).
g_run e2e-g1 30 "pid=\$(pidof ping) || exit 3; kill -INT \$pid
  i=0; while kill -0 \$pid 2>/dev/null && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i+1)); done
  tail -n 2 /tmp/flow.out
  awk '/packets transmitted/ { tx = \$1 + 0 }
       match(\$0, /icmp_seq=[0-9]+/) { seen[substr(\$0, RSTART + 9, RLENGTH - 9) + 0] = 1 }
       END { c = 0; for (n in seen) if (n + 0 < tx) c++; print \"FLOW\", tx, c }' /tmp/flow.out"
running=$G_RC
flow=$(grep -E 'transmitted' <<<"$G_OUT")
read -r _ tx answered < <(grep '^FLOW ' <<<"$G_OUT")
if [ "$running" = 0 ] && [ -n "$tx" ] && [ "$tx" -ge 30 ] && [ "$tx" -lt 900 ] \
   && [ $((tx - 1 - answered)) -le 1 ]; then
  ok restart.flow "flow ran across kill -9 and restart: $((tx - 1)) probes before the stop, $answered answered ($flow)"
else
  fail restart.flow "flow still running after restart: $([ "$running" = 0 ] && echo yes || echo "no (agent rc $running)"); $answered of $((${tx:-1} - 1)) answered; '$flow' $(tail -n 2 <<<"$G_OUT" | oneline)"
fi
ids_after=$(ctx_ids)
if [ -n "$ids_before" ] && [ "$ids_before" = "$ids_after" ]; then ok restart.contexts "$ids_after"
else fail restart.contexts "before $ids_before after ${ids_after:-<none: vnetd down>}"; fi
offload_check offloads.restart.g1 "$D1" 0

# ------------------------------------------------------------------ network-attach/detach
stage hotplug
G2B_NIC=(devid=2 mac=00:16:3e:e2:00:03 "ip=198.18.0.3 2001:db8::3" script=vif-vnet "bridge=xenbr0.$VLAN" mtu=1400 vifname=vn-g2b)
if out=$(timeout 90 xl network-attach e2e-g2 "${G2B_NIC[@]}" 2>&1) && ctx_exists "$D2" 2; then
  ok hotplug.attach "context for ($D2,2): id $(ctx_json "$D2" 2 | jq -r .id)"
else
  fail hotplug.attach "xl network-attach: $(oneline <<<"$out") context: $(ctx_json "$D2" 2 | oneline)"
fi
spec_check hotplug.attach.spec "$D2" 2 vn-g2b 00:16:3e:e2:00:03 198.18.0.3 2001:db8::3 "$VLAN" 1400 0
g_run e2e-g2 30 "dev=\$(ls /sys/bus/xen/devices/vif-2/net 2>/dev/null); i=0
  while [ -z \"\$dev\" ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); dev=\$(ls /sys/bus/xen/devices/vif-2/net 2>/dev/null); done
  $IPG link set \$dev mtu 1400 && $IPG addr add 198.18.0.3/24 dev \$dev && $IPG link set \$dev up && echo \$dev"
gdev=$(tail -n 1 <<<"$G_OUT")
ping_checks e2e-g2 "hotplug.attach.ping=-I ${gdev:-eth1} 198.18.0.1"
out=$(timeout 60 xl network-detach e2e-g2 2 2>&1)
# libxl removes the backend directory once the hotplug script's offline has run.
xs_gone "/local/domain/0/backend/vif/$D2/2" 60
if wait_until 20 ctx_gone "$D2" 2 && [ ! -e /sys/class/net/vn-g2b ]; then
  ok hotplug.detach "context for ($D2,2) released, vn-g2b gone"
else
  fail hotplug.detach "after network-detach ($(oneline <<<"$out")): context $(ctx_json "$D2" 2 | jq -c '{id,state}' 2>/dev/null)"
fi

# ------------------------------------------------------------------ reboot, shutdown, destroy
stage lifecycle
timeout 30 xl reboot e2e-g2 >/dev/null 2>&1
forget_dom e2e-g2
new_dom() { local d; d=$(xl domid e2e-g2 2>/dev/null) && [ "$d" != "$D2" ]; }
wait_until 120 new_dom
d_new=$(xl domid e2e-g2 2>/dev/null)
[ -n "$d_new" ] && xs_wait "/local/domain/0/backend/vif/$d_new/0/hotplug-status" 90 connected
if [ -n "$d_new" ] && [ "$d_new" != "$D2" ] && ctx_exists "$d_new" 0 && ctx_gone "$D2" 0; then
  D2_OLD=$D2; dom e2e-g2; D2=$DOMID
  ok lifecycle.reboot "domain $D2_OLD -> $D2: old context released, new one id $(ctx_json "$D2" 0 | jq -r .id)"
else
  fail lifecycle.reboot "after xl reboot: domains $(xl list 2>&1 | awk 'NR > 1 {print $1 "/" $2}' | oneline); contexts $(ctx_ids)"
  dom e2e-g2; D2=$DOMID
fi
if g_ready e2e-g2 120; then ping_checks e2e-g1 lifecycle.reboot.ping=198.18.0.2
else fail lifecycle.reboot.ping "rebooted g2's agent did not come back"; fi
timeout 90 xl shutdown -w e2e-g2 >/dev/null 2>&1
xs_gone "/local/domain/0/backend/vif/$D2/0" 60
if ! xl domid e2e-g2 >/dev/null 2>&1 && wait_until 20 ctx_gone "$D2" 0; then
  ok lifecycle.shutdown "domain $D2 shut down, context released"
else
  fail lifecycle.shutdown "domain still '$(xl domid e2e-g2 2>/dev/null)', context $(ctx_json "$D2" 0 | jq -c '{id,state}' 2>/dev/null)"
fi
timeout 60 xl destroy e2e-g1 >/dev/null 2>&1
xs_gone "/local/domain/0/backend/vif/$D1/0" 60
if wait_until 20 ctx_gone "$D1" 0; then ok lifecycle.destroy "domain $D1 destroyed, context released"
else fail lifecycle.destroy "context for ($D1,0) still there: $(ctx_json "$D1" 0 | oneline)"; fi
left=$(vctl context list -o json | jq '.contexts | length')
if [ "$left" = 0 ]; then ok lifecycle.empty "no context left"
else fail lifecycle.empty "${left:-?} contexts left: $(ctx_ids)"; fi

stage ""
info "vnetd log tail: $(grep -v 'skipping unrecognized' "$VNETD_LOG" | tail -n 5 | oneline 600)"
kill "$VNETD_PID" 2>/dev/null
finish
