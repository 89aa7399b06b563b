// Fault injection for the boundary tests (zero_downtime.debug_fault).
#pragma once

namespace zd::pg {

// Throws (or raises) the fault selected by zero_downtime.debug_fault.  Called inside run_cpp.
void inject_debug_fault(int fault);

}  // namespace zd::pg
