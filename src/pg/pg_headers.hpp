// PostgreSQL's headers, seen from C++.  Every file of the PostgreSQL side includes this
// first: postgres.h must come first, and all of them need C linkage.
#pragma once

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}
// nodes/parsenodes.h's FETCH_ALL is LONG_MAX, and the header counts on an earlier one having
// included <limits.h>; with 19's headers and GCC 16's C++ library none has.
#include <climits>

#include "pg/compat.h"
