// The DDL journal's staging area ($PGDATA/zero_downtime/journal.stage): each backend copies
// its records into its own slot of a file mapped in shared pages, then publishes them.  The
// kernel's page cache keeps them through the crash of any process, the server's included, and
// no system call is made a record: one write() moves a full slot's records (up to 32 kB, some
// hundred statements) into the journal file, or its backend's when it exits, or, at the next
// server start, those a killed backend or server left.  zd_journal() reads the slots too.
// (A write() a record cost ten times the record's own work: bench/journal_bench.sh.)
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
#include "lib/stringinfo.h"
}

namespace zd::pg {

// Room for records in this backend's slot: at least `need` bytes (the slot's records are
// written to the file first when it has less), `*cap` of them, to be published with
// journal_stage_publish.  nullptr: none (no slot, the file cannot be made or written, or
// `need` is more than a slot holds): the caller writes its records to the file itself.
char *journal_stage_space(size_t need, size_t *cap);

// The first `len` bytes of the room journal_stage_space gave, whole records, are staged.
void journal_stage_publish(size_t len);

// At server start (shared memory made, no backend yet; after a crash too): the records a
// killed backend or server left staged go to the journal file; the staging file is made
// anew for this server's number of backends.
void journal_stage_recover();

// Every record staged now, all slots one after the other (for zd_journal(); a slot being
// rewritten as it is read gives records that fail their CRC, and the reader skips them).
StringInfo journal_staged();

// Appends records to the journal file with one write() (journal.cpp); false: not written.
bool journal_write_file(const char *records, size_t len);

}  // namespace zd::pg
