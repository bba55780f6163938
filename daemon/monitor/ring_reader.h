// Reads the fast path's drop-event ring buffer (libbpf's ring_buffer API, epoll inside) on
// its own thread and publishes each event to the hub.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "daemon/monitor/drop_event_hub.h"

struct ring_buffer;

namespace vnet::monitor {

class RingReader {
 public:
  // `ring_fd` is the BPF_MAP_TYPE_RINGBUF map (not owned; stays open while this runs);
  // `hub` is not owned and outlives the reader.
  static absl::StatusOr<std::unique_ptr<RingReader>> Start(int ring_fd, DropEventHub* hub);
  ~RingReader();  // stops the thread

  uint64_t malformed() const { return malformed_.load(); }  // records of the wrong size

 private:
  explicit RingReader(DropEventHub* hub) : hub_(hub) {}
  static int OnRecord(void* self, void* data, size_t size);
  void Run();

  ring_buffer* rb_ = nullptr;  // set once by Start, before the thread runs
  DropEventHub* const hub_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> malformed_{0};
  std::thread thread_;
};

}  // namespace vnet::monitor
