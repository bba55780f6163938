#include "daemon/dataplane/program_set.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "vnet/guest_tc.skel.h"
#include "vnet/guest_tc_compat.skel.h"
#include "vnet/uplink_tc.skel.h"
#include "vnet/uplink_tc_compat.skel.h"

namespace vnet {
namespace {

// Opens skeleton type S from `elf` (the full or the compat build of the same program): the
// skeleton's own open, with the object bytes swapped before libbpf parses them.
template <typename S>
S* OpenFrom(int (*create)(S*), void (*destroy)(S*), const void* elf, size_t size,
            const bpf_object_open_opts* opts) {
  auto* obj = static_cast<S*>(calloc(1, sizeof(S)));
  if (!obj) {
    errno = ENOMEM;
    return nullptr;
  }
  int err = create(obj);
  if (!err) {
    obj->skeleton->data = const_cast<void*>(elf);
    obj->skeleton->data_sz = size;
    err = bpf_object__open_skeleton(obj->skeleton, opts);
  }
  if (err) {
    destroy(obj);
    errno = err < 0 ? -err : err;
    return nullptr;
  }
  return obj;
}

// libbpf's warnings, newest last; verifier logs arrive one line per call.
constexpr size_t kKeptLines = 12;
constexpr size_t kLineMax = 240;
std::mutex log_mu;
std::deque<std::string>& LogLines() {
  static auto* lines = new std::deque<std::string>();
  return *lines;
}

int LibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  va_list copy;
  va_copy(copy, args);
  const int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return n;
  std::string text(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(text.data(), text.size(), fmt, args);
  text.resize(static_cast<size_t>(n));
  // A verifier log comes as one message of many lines; its last lines name the cause.
  std::lock_guard<std::mutex> lock(log_mu);
  auto& lines = LogLines();
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (line.size() > kLineMax) line = line.substr(0, kLineMax);
    lines.emplace_back(line);
    if (lines.size() > kKeptLines) lines.pop_front();
  }
  return n;
}

}  // namespace

absl::Status CheckRequiredHelpers() {
  struct Required {
    bpf_prog_type type;
    bpf_func_id helper;
    const char* what;
  };
  static constexpr Required kRequired[] = {
      {BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_loop, "bpf_loop (Linux 5.17+) for broadcast fan-out"},
  };
  for (const Required& r : kRequired) {
    const int has = libbpf_probe_bpf_helper(r.type, r.helper, nullptr);
    if (has == 1) continue;
    if (has < 0)
      return absl::FailedPreconditionError(
          absl::StrCat("cannot probe the kernel for ", r.what, ": ", strerror(-has)));
    return absl::FailedPreconditionError(
        absl::StrCat("this kernel lacks ", r.what, "; vnet's fast path needs Linux 6.1 or later"));
  }
  return absl::OkStatus();
}

KernelFeatures ProbeKernelFeatures() {
  KernelFeatures f;
  btf* vmlinux = btf__load_vmlinux_btf();
  if (libbpf_get_error(vmlinux) || !vmlinux) return f;
  f.kern_ctx = btf__find_by_name_kind(vmlinux, "bpf_cast_to_kern_ctx", BTF_KIND_FUNC) > 0;
  btf__free(vmlinux);
  return f;
}

vnet_guest_tc* OpenGuestTc(const bpf_object_open_opts* opts, const KernelFeatures& features) {
  size_t size = 0;
  const void* elf =
      features.kern_ctx ? vnet_guest_tc__elf_bytes(&size) : vnet_guest_tc_compat__elf_bytes(&size);
  return OpenFrom(vnet_guest_tc__create_skeleton, vnet_guest_tc__destroy, elf, size, opts);
}

vnet_uplink_tc* OpenUplinkTc(const bpf_object_open_opts* opts, const KernelFeatures& features) {
  size_t size = 0;
  const void* elf = features.kern_ctx ? vnet_uplink_tc__elf_bytes(&size)
                                      : vnet_uplink_tc_compat__elf_bytes(&size);
  return OpenFrom(vnet_uplink_tc__create_skeleton, vnet_uplink_tc__destroy, elf, size, opts);
}

void CaptureLibbpfLog() { libbpf_set_print(LibbpfPrint); }

std::string TakeLibbpfLog() {
  std::lock_guard<std::mutex> lock(log_mu);
  auto& lines = LogLines();
  std::string out = absl::StrJoin(lines, " | ");
  lines.clear();
  return out;
}

}  // namespace vnet
