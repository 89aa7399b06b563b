// Included last by every .cpp file of the decide layer (src/core).  That layer is pure C++17:
// it never sees a PostgreSQL header, so it can throw, use destructors freely and be
// unit-tested without a server.  If anything included so far pulled in postgres.h, this is a
// compile error.  (CMake also builds src/core with no PostgreSQL include path at all.)
#pragma once

#ifdef POSTGRES_H
static_assert(false, "src/core is PostgreSQL-free: do not include postgres.h here");
#endif
