// The DDL journal: every schema-changing statement that reaches the hook, refused ones
// included, with who ran it, from where, what the guard decided, the locks it took, how long
// it waited for them and held them, and whether it committed.  Appended to a file under the
// data directory (journal_format.hpp) with one write() a record: a statement's record before
// it runs, carrying its transaction id, and an end record when its transaction ends.  A
// backend killed in between leaves the first alone; the reader (zd_journal()) then asks the
// commit log whether that transaction committed.  No lock, no catalog write: recording never
// waits behind anything but the kernel's append.
#pragma once

#include "core/facts.hpp"
#include "pg/pg_headers.hpp"

namespace zd::pg {

struct JournalEntry;

// The entry of the statement the hook is in (nullptr: none), for the guard's calls below.
extern JournalEntry *journal_current;

// zero_downtime.journal_size (kB; 0: no journal)
extern int guc_journal_size_kb;

// The library is preloaded (the file's shared state exists) and the journal is on.
bool journal_enabled();

// From _PG_init during shared_preload_libraries.
void journal_install_hooks();

// Who and what, when the statement reaches the hook.  `text`/`length`: the statement's own
// text; `redact`: its string constants are replaced (a password may be among them).
// `policy`: what the schema drift policy did ("schema role", "exempt", "warned", "refused",
// "off").  palloc'd in the statement's memory.
JournalEntry *journal_open(const char *command, const char *object, const char *text,
                           int length, bool redact, bool by_schema_role, const char *policy);

// The statement is refused (by the policy or a rule): its record, final.
void journal_refused(JournalEntry *entry, const char *rule);

// The statement is about to run after the guard's `decision` ("allowed", "warned",
// "rewritten", "deferred"): its record, with its transaction id.  `locks`: the locks it
// takes on existing relations, as the guard knows them (nullptr: not known).  `spans`: it
// commits transactions of its own part way.
void journal_running(JournalEntry *entry, const char *decision, const char *rule,
                     const zd::StatementFacts *facts, const char *locks, bool spans);

// The statement's first lock was granted now (the guard took it itself: wait measured).
void journal_lock_granted(JournalEntry *entry);

// The statement returned: its end record waits for its transaction's end (or is written now,
// when it committed on its own).
void journal_ran(JournalEntry *entry);

// "SHARE on public.t, ..." for the statement's gathered operations (nullptr: none).
const char *journal_locks_of(const zd::StatementFacts *facts);

}  // namespace zd::pg
