#!/bin/busybox sh
# Measurements the guest agent runs for dom0, one line each (full paths: busybox's shell
# prefers its own applets, and busybox ping/ip lack what is needed here).
#   probe ping NAME PING_ARGS...  -> "R NAME RECEIVED"  (5 probes after one warm-up)
#   probe spoof NAME PING_ARGS... -> "R NAME RECEIVED"  (3 quick probes, no warm-up: expected
#                                    to go unanswered, so waiting for replies is wasted time)
#   probe iperf DST               -> "I BPS RETRANSMITS BYTES MSS ERROR"  (3 s of TCP)
case "$1" in
  ping)
    name=$2; shift 2
    /usr/bin/ping -c 1 -W 3 "$@" >/dev/null 2>&1
    got=$(/usr/bin/ping -q -c 5 -i 0.2 -W 2 "$@" 2>&1 | sed -n 's/.* \([0-9]*\) received.*/\1/p')
    echo "R $name ${got:-0}" ;;
  spoof)
    name=$2; shift 2
    got=$(/usr/bin/ping -q -c 3 -i 0.2 -W 1 "$@" 2>&1 | sed -n 's/.* \([0-9]*\) received.*/\1/p')
    echo "R $name ${got:-0}" ;;
  iperf)
    /usr/bin/iperf3 -c "$2" -t 3 -J --connect-timeout 5000 >/tmp/iperf.json 2>&1
    /usr/bin/jq -r '[.end.sum_sent.bits_per_second // 0, .end.sum_sent.retransmits // 0,
                     .end.sum_sent.bytes // 0, .start.tcp_mss_default // 1448,
                     (.error // "-" | gsub(" "; "_"))] | map(tostring) | "I " + join(" ")' \
      /tmp/iperf.json ;;
  *) echo "probe: unknown '$1'" >&2; exit 2 ;;
esac
