// At start, after the context registry: puts the buffer ledger back as the journal saved
// it, and finishes the releases a crash interrupted (regions of contexts the registry no
// longer has are dropped, as the release would have).
#pragma once

#include "absl/status/status.h"
#include "daemon/core/context_registry.h"
#include "daemon/ledger/buffer_ledger.h"
#include "daemon/ledger/file_journal.h"

namespace vnet {

// DATA_LOSS naming the file or the inconsistency when the saved ledger cannot be trusted;
// nothing is then removed and vnetd must not start.
absl::Status RestoreBuffers(ledger::FileJournal* journal, ledger::BufferLedger* ledger,
                            const ContextRegistry& registry);

}  // namespace vnet
