// Sleeping inside a backend: on the process latch, so that a cancel, a termination or the
// postmaster's death ends the wait at once.
#pragma once

#include "pg/pg_headers.hpp"

namespace zd::pg {

// Sleeps `ms` milliseconds (also woken early by the latch), then serves pending interrupts.
void sleep_ms(int ms);

}  // namespace zd::pg
