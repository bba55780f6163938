// systemd's notify protocol (sd_notify(3)) without libsystemd: one datagram to the Unix
// socket in $NOTIFY_SOCKET. The protocol is small and stable; writing it here keeps vnetd
// free of a new build and run-time dependency.
//
// Watchdog: while systemd asks for one (WATCHDOG_USEC, for this process), a thread probes
// the server through its real accept path (a new connection to the Unix socket and a
// grpc.health.v1 Check) every half interval and sends WATCHDOG=1 only when the probe
// answers SERVING. A vnetd that no longer accepts connections (file descriptors exhausted,
// a wedged listener) stops feeding the watchdog, and systemd restarts it.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace vnet {

// Sends `state` ("READY=1", "STOPPING=1", "WATCHDOG=1", ...); false without $NOTIFY_SOCKET
// or when the datagram could not be sent.
bool SdNotify(const std::string& state);

// The watchdog interval systemd asked this process for; zero when none.
absl::Duration WatchdogInterval();

// One health check over a new connection to `target` (e.g. unix:/run/vnet/vnetd.sock);
// true when it answers SERVING within `timeout`.
bool ProbeHealth(const std::string& target, absl::Duration timeout);

class Watchdog {
 public:
  // Starts probing `target` every interval / 2 and feeding the watchdog while it answers.
  Watchdog(std::string target, absl::Duration interval);
  ~Watchdog();  // stops the thread
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  void Run();

  const std::string target_;
  const absl::Duration interval_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace vnet
