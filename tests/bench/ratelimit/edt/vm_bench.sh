#!/usr/bin/env bash
# Runs inside the VM (vm_init.sh): one guest namespace g1 and a wire namespace behind vnetd's
# uplink vnup0, then for each TCP rate: one TCP stream g1 -> wire with (a) vnet's policer
# (--rate R) and (b) EDT pacing (vnet unlimited; edt_pacer.bpf.o on vnup0's egress, fq as
# vnup0's root qdisc), interleaved per repetition; then for each UDP rate a 10x flood for (b).
# Prints one EDT-ROW line per run (key=value) for the host's summary; EDT-INFO for context.
# Settings come from the kernel command line (the kernel hands them to /init as environment):
# EDT_RATES (Mbit/s, comma-separated), EDT_HORIZONS (ms, comma-separated; 0: fq without the
# pacer, TCP only), EDT_SECS, EDT_REPS, EDT_UDP_RATES.
set -uo pipefail
RATES=${EDT_RATES-20} HORIZONS=${EDT_HORIZONS:-50}
SECS=${EDT_SECS:-5} REPS=${EDT_REPS:-3}
UDP_RATES=${EDT_UDP_RATES:-1}  # Mbit/s; TCG sends only ~1k UDP frames/s
RATES=${RATES//,/ } HORIZONS=${HORIZONS//,/ } UDP_RATES=${UDP_RATES//,/ }  # commas on the kernel command line
PIN=/sys/fs/bpf/vnet-edt
G1_MAC=02:00:00:00:00:0a
WIRE_IP=198.18.0.1
info() { echo "EDT-INFO $*"; }

ip netns add wire
ip link add vnup0 type veth peer name veth0 netns wire
ip netns add g1
ip link add vg1 type veth peer name veth0 netns g1
ip -n g1 link set veth0 address $G1_MAC
for ns in wire g1; do ip -n $ns link set lo up; done
ip -n wire addr add $WIRE_IP/24 dev veth0
ip -n g1 addr add 198.18.0.10/24 dev veth0
ip -n wire link set veth0 up; ip -n g1 link set veth0 up
ip link set vnup0 up; ip link set vg1 up
ip netns exec wire iperf3 -s -D

vnetd --fast_path=bpf --uplink=vnup0 >/var/log/vnetd.log 2>&1 &
for _ in $(seq 120); do vnetctl status >/dev/null 2>&1 && break; sleep 0.5; done
vnetctl status 2>&1 | grep -E "fast path|uplink" | sed 's/^/EDT-INFO /'
vnetctl context assign --domain 1 --device 0 --interface vg1 --mac $G1_MAC \
  --ip 198.18.0.10 --ip 2001:db8::a --vlan 1 >/dev/null || { info "assign failed"; tail /var/log/vnetd.log; exit 1; }
ip netns exec g1 ping -c 3 -W 5 $WIRE_IP >/dev/null || { info "no path g1 -> wire"; exit 1; }
info "kernel $(uname -r) cpus $(nproc) uplink offloads: $(ethtool -k vnup0 | grep -E '^(tcp-segmentation|generic-segmentation)-offload' | tr -s ' \n' ' ')"

# The bench pacer: loaded once, attached and configured per run.
mkdir -p $PIN
bpftool prog load /edt/edt_pacer.bpf.o $PIN/prog type classifier pinmaps $PIN \
  || { info "bpftool prog load failed"; exit 1; }
mac_key() { echo "$G1_MAC" | tr ':' ' ' | sed 's/\([0-9a-f][0-9a-f]\)/0x\1/g'; }
u64le() { local v=$1 i; for i in 0 1 2 3 4 5 6 7; do printf '0x%02x ' $(((v >> (8 * i)) & 255)); done; }
edt_on() {  # edt_on RATE_BPS HORIZON_NS
  bpftool map update pinned $PIN/edt_guests key $(mac_key) 0 0 \
    value $(u64le "$1") $(u64le "$2") $(u64le 0) $(u64le 0) $(u64le 0)
  tc qdisc replace dev vnup0 root fq
  # vnetd's clsact (its ingress program) is already there; the pacer is one more filter.
  tc qdisc show dev vnup0 | grep -q clsact || tc qdisc add dev vnup0 clsact
  tc filter add dev vnup0 egress prio 1 handle 1 bpf da pinned $PIN/prog
}
edt_counters() {  # "passed dropped" of g1's entry
  bpftool -j map lookup pinned $PIN/edt_guests key $(mac_key) 0 0 |
    jq -r '.formatted.value | "\(.passed) \(.dropped)"' 2>/dev/null || echo "? ?"
}
edt_off() {  # only what edt_on added: vnetd's ingress filter stays
  tc filter del dev vnup0 egress prio 1
  tc qdisc del dev vnup0 root
}
policer() { vnetctl context update --interface vg1 --rate "$1" >/dev/null; }
fq_stats() { tc -s qdisc show dev vnup0 | tr -s ' \n' ' ' | grep -oE 'dropped [0-9]+|flows_plimit [0-9]+|horizon_drops [0-9]+' | tr '\n' ' '; }

# ping_fields: avg and max RTT and loss of the ping in /tmp/ping.out, as EDT-ROW fields.
ping_fields() {
  local loss avg max
  loss=$(grep -oE '[0-9]+% packet loss' /tmp/ping.out | cut -d% -f1)
  read -r avg max < <(grep -oE 'min/avg/max = [0-9./]+' /tmp/ping.out | cut -d' ' -f3 | awk -F/ '{print $2, $3}')
  echo "ping_avg_ms=${avg:-nan} ping_max_ms=${max:-nan} ping_loss_pct=${loss:-nan}"
}

# run_tcp MODE RATE_MBIT REP [HORIZON_MS]: one stream, iperf3 -O 1; a ping alongside.
run_tcp() {
  local mode=$1 mbit=$2 rep=$3 hz=${4:-} pings=$((SECS * 5 - 5))
  ip netns exec g1 ping -c "$pings" -i 0.2 -W 1 $WIRE_IP >/tmp/ping.out 2>&1 &
  local ping_pid=$!
  ip netns exec g1 iperf3 -c $WIRE_IP -t "$SECS" -O 1 -J >/tmp/iperf.json 2>/tmp/iperf.err
  wait "$ping_pid"
  local bps retr rtt rttmax
  read -r bps retr rtt rttmax < <(jq -r '[.end.sum_received.bits_per_second,
      .end.sum_sent.retransmits, .end.streams[0].sender.mean_rtt,
      .end.streams[0].sender.max_rtt] | map(tostring) | join(" ")' /tmp/iperf.json 2>/dev/null)
  echo "EDT-ROW kind=tcp mode=$mode rate_mbit=$mbit horizon_ms=${hz:--} rep=$rep bps=${bps:-nan}" \
    "retrans=${retr:-nan} srtt_us=${rtt:-nan} srtt_max_us=${rttmax:-nan} $(ping_fields)" \
    "load=$(cut -d' ' -f1 /proc/loadavg)"
  [ -n "$bps" ] || info "iperf3 failed: $(tail -c 300 /tmp/iperf.err)"
}

ms_now() { awk '{printf "%d\n", $1 * 1000}' /proc/uptime; }  # busybox date has no %N
rx_bytes() { ip -n wire -s -j link show veth0 | jq '.[0].stats64.rx.bytes'; }
# run_udp RATE_MBIT REP HORIZON_MS: a 10x UDP flood, what arrives from 1 s in to the end.
run_udp() {
  local mbit=$1 rep=$2 hz=$3 b0 b1 t0 t1 pings=$((SECS * 5 - 10))
  ip netns exec g1 iperf3 -c $WIRE_IP -u -b "$((mbit * 10))M" -l 1400 -t "$SECS" -J >/tmp/udp.json 2>&1 &
  local flood=$!
  sleep 1
  b0=$(rx_bytes); t0=$(ms_now)
  ip netns exec g1 ping -c "$pings" -i 0.2 -W 1 $WIRE_IP >/tmp/ping.out 2>&1
  b1=$(rx_bytes); t1=$(ms_now)
  wait "$flood"
  # What the guest offered (iperf3 payload; the frame adds 42 bytes to each 1400).
  local sent
  sent=$(jq -r '.end.sum.bits_per_second * 1442 / 1400 | floor' /tmp/udp.json 2>/dev/null)
  echo "EDT-ROW kind=udp10x mode=edt rate_mbit=$mbit horizon_ms=$hz rep=$rep" \
    "bps=$(((b1 - b0) * 8 * 1000 / (t1 - t0))) offered_bps=${sent:-nan} $(ping_fields)" \
    "edt=$(edt_counters | tr ' ' /)" \
    "fq=$(fq_stats | tr ' ' ,) load=$(cut -d' ' -f1 /proc/loadavg)"
}

for mbit in $RATES; do
  for rep in $(seq "$REPS"); do
    policer "${mbit}M"; run_tcp police "$mbit" "$rep"; policer 0
    for hz in $HORIZONS; do
      # Horizon 0: fq on the uplink, the pacer attached but not pacing (what fq alone costs).
      edt_on $((hz ? mbit * 1000000 : 0)) $((hz * 1000000))
      run_tcp "$( ((hz)) && echo edt || echo fq-only)" "$mbit" "$rep" "$hz"
      info "edt $mbit M horizon $hz ms rep $rep: passed/dropped $(edt_counters); fq: $(fq_stats)"
      edt_off
    done
  done
done
for mbit in $UDP_RATES; do
  for rep in $(seq "$REPS"); do
    for hz in $HORIZONS; do
      ((hz)) || continue
      edt_on $((mbit * 1000000)) $((hz * 1000000))
      run_udp "$mbit" "$rep" "$hz"
      edt_off
    done
  done
done
vnetctl context release --domain 1 --device 0 >/dev/null
kill %1 2>/dev/null
echo "EDT-DONE"
