#pragma once
// What the orchestrator and its stream workers agree on beyond environment variables.

namespace livedub {

// A worker that refuses its input for good (no H.264 video, say) exits with this status after
// writing one line of reason to $LIVEDUB_WORKER_EXIT_REASON_FILE: restarting it would only be
// refused again. (65 is EX_DATAERR of sysexits.h.)
inline constexpr int kWorkerExitUnsupportedInput = 65;

}  // namespace livedub
