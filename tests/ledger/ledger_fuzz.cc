// libFuzzer target: the fuzzer's bytes choose the operations of the model check; any
// disagreement with the reference model aborts with a description. See
// docs/buffer-ledger.md for how to build and run it.
#include <cstdio>
#include <cstdlib>

#include "tests/ledger/model_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vnet::ledger::testing::ModelCheck check;
  vnet::ledger::testing::ByteChoices choices(data, size);
  for (int step = 0; step < 4096 && !choices.exhausted(); ++step) {
    const std::string error = check.Step(choices);
    if (!error.empty()) {
      std::fprintf(stderr, "ledger model check failed at step %d: %s\n", step, error.c_str());
      std::abort();
    }
  }
  return 0;
}
