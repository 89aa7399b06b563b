// The DDL journal: every schema-changing statement that reaches the hook, refused ones
// included, with who ran it, from where, what the guard decided, the locks it took, how long
// it waited for them and held them, and whether it committed.  Records (journal_format.hpp)
// are staged in the backend's slot of a mapped file (journal_stage.hpp: a copy, no system
// call) and move to the journal file under the data directory a full slot at a time.  In a
// transaction block: a statement's record before it runs, carrying its transaction id, and an
// end record when its transaction ends; a backend killed in between leaves the first alone,
// and the reader (zd_journal()) asks the commit log whether that transaction committed.
// Outside one (the statement is its transaction): one record, statement and end, staged just
// before the commit (the commit log again says whether it went through) or at the abort.  No
// lock, no catalog write: recording never waits behind anything.
#pragma once

#include "core/facts.hpp"
#include "pg/journal_format.hpp"
#include "pg/pg_headers.hpp"

extern "C" {
#include "storage/lockdefs.h"
#include "tcop/cmdtag.h"
}

namespace zd::pg {

struct JournalEntry;

// The entry of the statement the hook is in (nullptr: none), for the guard's calls below.
extern JournalEntry *journal_current;

// zero_downtime.journal_size (kB; 0: no journal)
extern int guc_journal_size_kb;

// The library was preloaded (the journal's shared state exists).
extern bool journal_preloaded;

// The library is preloaded and the journal is on.  (Inline: asked at every schema change.)
inline bool journal_enabled() { return journal_preloaded && guc_journal_size_kb > 0; }

// From _PG_init during shared_preload_libraries.
void journal_install_hooks();

// Who and what, when the statement `stmt` reaches the hook.  `text`/`length`: the statement's
// own text; `redact`: its string constants are replaced (a password may be among them).
// `policy`: what the schema drift policy did.  palloc'd in the statement's memory.
JournalEntry *journal_open(CommandTag command, const Node *stmt, const char *text, int length,
                           bool redact, bool by_schema_role, journal_format::Policy policy);

// The object `stmt` acts on, as the journal names it: a relation schema-qualified and quoted
// (resolved on the search path when the statement did not qualify it), so that one table is
// one object however statements wrote it; other objects as statement_object() names them.
// (journal_object.cpp)
const char *journal_object(const Node *stmt);

// The statement is refused (by the policy or a rule): its record, final.
void journal_refused(JournalEntry *entry, const char *rule);

// The statement is about to run after the guard's `decision` (allowed, warned, rewritten,
// deferred): its record, with its transaction id.  `locks`: the locks it
// takes on existing relations, as the guard knows them (nullptr: not known).  `spans`: it
// commits transactions of its own part way.
void journal_running(JournalEntry *entry, journal_format::Decision decision, const char *rule,
                     const zd::StatementFacts *facts, const char *locks, bool spans);

// The guard asks for the statement's lock now (journal_lock_wait_begins), and it was granted
// now (journal_lock_granted): the lock wait the journal shows.  (Without the first, the wait
// counts from the statement's start.)
void journal_lock_wait_begins(JournalEntry *entry);
void journal_lock_granted(JournalEntry *entry);

// The statement returned: its end record waits for its transaction's end (or is written now,
// when it committed on its own).
void journal_ran(JournalEntry *entry);

// The lock PostgreSQL takes first for `stmt` on the relation `relid` it names, when known
// exactly (NoLock: not known): the guard may take it a moment before, to time the statement's
// lock wait.  (journal_lock.cpp)
LOCKMODE journal_first_lock(const Node *stmt, Oid relid);

// "SHARE on public.t, ..." for the statement's gathered operations (nullptr: none).
const char *journal_locks_of(const zd::StatementFacts *facts);

}  // namespace zd::pg
