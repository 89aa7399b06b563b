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

#include "pg/compat.h"
