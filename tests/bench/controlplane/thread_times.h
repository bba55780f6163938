// Where a process's threads spent the load: CPU time and time waiting on a run queue
// (runnable, not running), from /proc/<pid>/task/<tid>/schedstat, summed by thread name.
// Shows whether a call waited for a core (and whose threads had them), not only how long.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

namespace vnet::bench {

struct ThreadTime {
  uint64_t cpu_ns = 0;   // on a CPU
  uint64_t wait_ns = 0;  // runnable, waiting on a run queue
  uint64_t slices = 0;   // times scheduled in
  int threads = 0;
};

// By thread name (comm), for the threads alive now.
using ThreadTimes = std::map<std::string, ThreadTime>;
ThreadTimes ReadThreadTimes(pid_t pid);

// What each thread name gained from `before` to `after` (threads gone by `after` are lost;
// threads that came after `before` count from zero).
ThreadTimes Since(const ThreadTimes& before, const ThreadTimes& after);

// One Markdown row per thread name of `process`: CPU s, run-queue wait s, wait per slice.
void PrintThreadTimes(const std::string& process, const ThreadTimes& times);

}  // namespace vnet::bench
