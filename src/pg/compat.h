// PG_VERSION_NUM shims, all in one place.  zero_downtime targets PostgreSQL 15.
#pragma once

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
#error "zero_downtime is built and tested for PostgreSQL 15"
#endif
