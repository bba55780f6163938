#include "daemon/monitor/ring_reader.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "daemon/core/log.h"

namespace vnet::monitor {
namespace {

// How long one poll waits: the bound on how late the thread sees a stop request.
constexpr int kPollTimeoutMs = 200;

}  // namespace

absl::StatusOr<std::unique_ptr<RingReader>> RingReader::Start(int ring_fd, DropEventHub* hub) {
  std::unique_ptr<RingReader> self(new RingReader(hub));
  ring_buffer* rb = ring_buffer__new(ring_fd, &RingReader::OnRecord, self.get(), nullptr);
  if (rb == nullptr) {
    return absl::ErrnoToStatus(errno, "drop events: cannot open the fast path's ring buffer");
  }
  self->rb_ = rb;
  self->thread_ = std::thread([r = self.get()] { r->Run(); });
  return self;
}

RingReader::~RingReader() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  ring_buffer__free(rb_);
}

int RingReader::OnRecord(void* self, void* data, size_t size) {
  auto* reader = static_cast<RingReader*>(self);
  if (size < sizeof(vnet_drop_event)) {
    reader->malformed_.fetch_add(1);
    return 0;
  }
  vnet_drop_event ev;
  std::memcpy(&ev, data, sizeof(ev));
  if (ev.captured_len > VNET_DROP_EVENT_SNAP_LEN) ev.captured_len = VNET_DROP_EVENT_SNAP_LEN;
  reader->hub_->Publish(ev);
  return 0;
}

void RingReader::Run() {
  while (!stop_.load()) {
    const int n = ring_buffer__poll(rb_, kPollTimeoutMs);
    if (n < 0 && n != -EINTR) {
      LogError("drop events: ring buffer poll: %s", std::strerror(-n));
      return;
    }
  }
}

}  // namespace vnet::monitor
