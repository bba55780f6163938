#include "tests/bench/controlplane/thread_times.h"

#include <dirent.h>

#include <cstdio>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tests/integration/temp_dir.h"

namespace vnet::bench {

ThreadTimes ReadThreadTimes(pid_t pid) {
  ThreadTimes out;
  const std::string dir = absl::StrCat("/proc/", pid, "/task");
  DIR* tasks = opendir(dir.c_str());
  if (tasks == nullptr) return out;
  while (dirent* e = readdir(tasks)) {
    if (e->d_name[0] == '.') continue;
    const std::string task = absl::StrCat(dir, "/", e->d_name);
    const std::string name(absl::StripTrailingAsciiWhitespace(testing::ReadFile(task + "/comm")));
    std::istringstream stat(testing::ReadFile(task + "/schedstat"));
    ThreadTime t;
    if (name.empty() || !(stat >> t.cpu_ns >> t.wait_ns >> t.slices)) continue;
    ThreadTime& sum = out[name];
    sum.cpu_ns += t.cpu_ns;
    sum.wait_ns += t.wait_ns;
    sum.slices += t.slices;
    sum.threads += 1;
  }
  closedir(tasks);
  return out;
}

ThreadTimes Since(const ThreadTimes& before, const ThreadTimes& after) {
  ThreadTimes out;
  for (const auto& [name, a] : after) {
    ThreadTime d = a;
    if (auto it = before.find(name); it != before.end()) {
      const ThreadTime& b = it->second;
      // A thread of this name that exited takes its counts with it: never below zero.
      d.cpu_ns = a.cpu_ns > b.cpu_ns ? a.cpu_ns - b.cpu_ns : 0;
      d.wait_ns = a.wait_ns > b.wait_ns ? a.wait_ns - b.wait_ns : 0;
      d.slices = a.slices > b.slices ? a.slices - b.slices : 0;
    }
    out[name] = d;
  }
  return out;
}

void PrintThreadTimes(const std::string& process, const ThreadTimes& times) {
  for (const auto& [name, t] : times) {
    if (t.slices == 0) continue;
    std::printf("| %s | %s | %d | %.2f | %.2f | %llu | %.3f |\n", process.c_str(), name.c_str(),
                t.threads, static_cast<double>(t.cpu_ns) / 1e9,
                static_cast<double>(t.wait_ns) / 1e9, static_cast<unsigned long long>(t.slices),
                static_cast<double>(t.wait_ns) / 1e6 / static_cast<double>(t.slices));
  }
}

}  // namespace vnet::bench
