#!/bin/busybox sh
# Guest control agent: runs the commands dom0 writes into this guest's own xenstore area and
# writes back the exit status and the tail of the output. The channel is xenbus
# (/dev/xen/xenbus), so it keeps working while the guest's network is down or reloading.
#
# Protocol (paths relative to /local/domain/<domid>, under data/, which the guest may write):
#   data/e2e/cmd    written by dom0:  "SEQ TIMEOUT COMMAND..."  (COMMAND runs under sh -c)
#   data/e2e/out    written here:     the last 1500 bytes of COMMAND's stdout+stderr
#   data/e2e/rc     written here last: "SEQ RC"  (RC 124: COMMAND hit TIMEOUT)
#   data/e2e/ready  written here at start: "UPTIME"
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
base=data/e2e
xenstore-write "$base/ready" "$(cut -d' ' -f1 /proc/uptime)"
last=
# xenstore-watch prints one line per change (and one at registration); the loop re-reads
# the command each time and runs it once per sequence number.
xenstore-watch "$base/cmd" | while read -r _; do
  req=$(xenstore-read -R "$base/cmd" 2>/dev/null) || continue
  seq=${req%% *}; rest=${req#* }; tmo=${rest%% *}; cmd=${rest#* }
  [ -n "$seq" ] && [ "$seq" != "$last" ] || continue
  last=$seq
  timeout "$tmo" sh -c "$cmd" >/tmp/e2e-out 2>&1 </dev/null
  rc=$?
  xenstore-write "$base/out" "$(tail -c 1500 /tmp/e2e-out)"
  xenstore-write "$base/rc" "$seq $rc"
done
echo "E2E-GUEST agent: xenstore-watch ended" >&2
