// The journal's records (journal.hpp): a statement's made when the hook sees it run, its end
// when its transaction ends (the transaction callbacks below), each staged where it is made
// (journal_stage.hpp).  The file they go to: journal_file.cpp.
#include "pg/journal.hpp"

#include "pg/compat.h"
#include "pg/journal_format.hpp"
#include "pg/journal_stage.hpp"
#include "pg/migration_tool.hpp"
#include "pg/schema_roles.hpp"
#include "core/sql_normalize.hpp"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "commands/dbcommands.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "port/atomics.h"
#include "port/pg_crc32c.h"
#include "parser/parser.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "miscadmin.h"
#include "utils/timestamp.h"
}

namespace zd::pg {

namespace fmt = journal_format;

JournalEntry *journal_current = nullptr;
int guc_journal_size_kb = 0;

struct JournalEntry {
  uint32 seq;
  TimestampTz started;    // when the statement reached the hook
  TimestampTz wait_from;  // the guard asked for its lock (0: not measured)
  TimestampTz locked_at;  // its lock granted (0: not measured)
  CommandTag command;
  uint8 policy;  // journal_format::kPolicies
  const char *object;
  // Its text: as sent, or (redacted) already normalized; the reader normalizes the rest.
  const char *statement;
  int statement_len;
  bool normalized;
  bool by_schema_role;
  bool in_block;  // run in a transaction block
  struct Pending *pending;  // once it runs
};

// A statement that ran, waiting for its transaction's end.  Kept for reuse (in
// TopMemoryContext): a stream of statements allocates nothing after the first.
struct Pending {
  uint32 seq;
  SubTransactionId subid;       // the (sub)transaction it ran in
  LocalTransactionId lxid;      // the transaction it started in
  TimestampTz from;             // its lock granted, or its start
  int64 wait_us;                // -1: not measured
  char *locks;                  // nullptr: not known
  bool running;                 // still running: an internal commit is not its end
  bool spans;
  // Deferred: its statement record is not written yet, but kept here (`record`: the payload
  // of a 'C' record up to its end fields), written with its end as one record.
  bool deferred;
  char *record;  // (kMaxStatementPayload bytes)
  size_t record_len;
};

namespace {

// The entries of the statements running now (nested ones: a function's DDL inside a DDL):
// taken from here rather than palloc'd.  One is free again when its statement returns, all at a
// transaction's abort (a statement that failed never returned); should they all be taken, palloc.
constexpr int kEntries = 8;
JournalEntry entries[kEntries];
bool entry_taken[kEntries];

uint32 next_seq = 0;
// The pending statements, in order, and the ones free for reuse (TopMemoryContext).
Pending **pending = nullptr, **spare = nullptr;
int n_pending = 0, n_spare = 0, pending_cap = 0;
bool callbacks_registered = false;

// ---- records ----------------------------------------------------------------------------

// Appends fields to a byte array (no bounds check: callers size it for the largest record).
struct Writer {
  char *data;
  size_t len;

  void put_bytes(const void *p, size_t n) {
    memcpy(data + len, p, n);
    len += n;
  }
  template <typename T>
  void put(T value) {
    put_bytes(&value, sizeof value);
  }
  // At most `max` bytes of it, cut at a character boundary.  (The fields are bounded so that a
  // record always fits: 8 kB of statement, 1 kB of each other text.)
  void put_text(const char *text, size_t max = 1024) {
    if (text == nullptr) {
      put<uint32>(fmt::kNullText);
      return;
    }
    put_text(text, strnlen(text, max + 1), max);
  }
  void put_text(const char *text, size_t n, size_t max) {
    if (n > max) n = pg_mbcliplen(text, (int) n, (int) max);
    put<uint32>((uint32) n);
    put_bytes(text, n);
  }
  void put_key(char type, uint32 seq, TimestampTz at) {
    put<char>(type);
    put<int32>(MyProcPid);
    put<int64>(MyStartTimestamp);
    put<uint32>(seq);
    put<int64>(at);
  }
};

// The largest payload of a statement's fields: 8 kB of statement, 11 other texts of 1 kB,
// their lengths, the key and the end fields.
constexpr size_t kMaxStatementPayload = fmt::kMaxStatement + 11 * 1024 + 12 * 4 + 64;
static_assert(kMaxStatementPayload + 1024 + 64 <= fmt::kMaxPayload, "a record fits");

// Records are made where they are staged: in the free part of the backend's staging slot
// (journal_stage.hpp), published when done; or, should there be no slot, in a static buffer
// written to the file at once.  No allocation on the statement's path, one copy of each field.
struct Buffer {
  static constexpr size_t kOwnSize = fmt::kHeaderSize + fmt::kMaxPayload;
  char own[kOwnSize];
  char *data = nullptr;  // the slot's free part, or `own` (nullptr: none yet)
  size_t cap = 0;
  size_t len = 0;
  size_t start = 0;  // the record being made
  bool staged = false;

  Writer writer() { return Writer{data, len}; }
  // Starts a record of at most `need` bytes, header included: its header is filled by end().
  void begin(size_t need) {
    if (data != nullptr && len + need > cap) flush();
    if (data == nullptr) {
      data = journal_stage_space(need, &cap);
      staged = data != nullptr;
      if (!staged) {
        data = own;
        cap = kOwnSize;
      }
    }
    start = len;
    memcpy(data + len, fmt::kMagic, 4);
    len += fmt::kHeaderSize;  // (magic, then length and CRC, below)
  }
  void end(const Writer &w) {
    len = w.len;
    const uint32 payload = (uint32) (len - start - fmt::kHeaderSize);
    pg_crc32c crc;
    INIT_CRC32C(crc);
    COMP_CRC32C(crc, data + start + fmt::kHeaderSize, payload);
    FIN_CRC32C(crc);
    memcpy(data + start + 4, &payload, 4);
    memcpy(data + start + 8, &crc, 4);
  }
  // Drops a record left unfinished (an error part way): never published, never written.
  void reset() {
    data = nullptr;
    len = 0;
  }
  // The records made so far: published in the slot, or written to the file.
  void flush() {
    if (len > 0) {
      if (staged) journal_stage_publish(len);
      else journal_write_file(data, len);
    }
    data = nullptr;
    len = 0;
  }
};
Buffer buffer;

// inet_client_addr() as text, "[local]" for a Unix socket, nullptr for a background worker.
// (Through the SQL function: libpq-be.h's Port needs the GSSAPI headers of some builds.)
const char *client_address() {
  static char address[64];
  if (MyProcPort == nullptr) return nullptr;
  LOCAL_FCINFO(fcinfo, 0);
  InitFunctionCallInfoData(*fcinfo, nullptr, 0, InvalidOid, nullptr, nullptr);
  const Datum inet = inet_client_addr(fcinfo);
  strlcpy(address, fcinfo->isnull ? "[local]" : DatumGetCString(DirectFunctionCall1(inet_out, inet)),
          sizeof address);
  return address;
}

// Who, from where: the database, role, session role, application_name and client address
// of every record, as record bytes, made again only when one of them changes (SET ROLE, SET
// application_name, a role renamed).
struct Who {
  bool valid = false;
  Oid user = InvalidOid, session_user = InvalidOid;
  char application[1026];  // (a longer one is cut at 1 kB in the record anyway)
  const char *tool_by_name = nullptr;  // the migration tool application_name alone tells (psql)
  char bytes[5 * (4 + 1024)];
  size_t len = 0;
};
Who who;

extern "C" void forget_who(Datum, ZD_SYSCACHE_ID, uint32) { who.valid = false; }

const char *role_text(Oid role) {
  const char *name = GetUserNameFromId(role, true);
  return name != nullptr ? name : "?";
}

void put_who(Writer &w) {
  const char *app = application_name != nullptr ? application_name : "";
  if (!who.valid || who.user != GetUserId() || who.session_user != GetSessionUserId() ||
      strncmp(who.application, app, sizeof who.application) != 0) {
    static bool registered = false;
    if (!registered) {
      CacheRegisterSyscacheCallback(AUTHOID, forget_who, (Datum) 0);
      registered = true;
    }
    who.user = GetUserId();
    who.session_user = GetSessionUserId();
    strlcpy(who.application, app, sizeof who.application);
    who.tool_by_name = strcmp(app, "psql") == 0 ? "psql" : nullptr;
    const char *database = get_database_name(MyDatabaseId);
    Writer b{who.bytes, 0};
    b.put_text(database != nullptr ? database : "?");
    b.put_text(role_text(who.user));
    b.put_text(role_text(who.session_user));
    b.put_text(application_name);
    b.put_text(client_address());
    who.len = b.len;
    who.valid = true;
  }
  w.put_bytes(who.bytes, who.len);
}

const char *tool_name(zd::MigrationTool tool) {
  switch (tool) {
    case zd::MigrationTool::Unknown: return nullptr;
    case zd::MigrationTool::Psql: return "psql";
    case zd::MigrationTool::Knex: return "Knex";
    case zd::MigrationTool::NodePgMigrate: return "node-pg-migrate";
    case zd::MigrationTool::Prisma: return "Prisma Migrate";
    case zd::MigrationTool::Drizzle: return "Drizzle";
  }
  return nullptr;
}

// The tool, when the guard did not gather facts: looked for in a transaction block (once a
// transaction while it is not found), by application_name alone in autocommit (as gather; what
// put_who found for the current application_name).
const char *current_tool(const JournalEntry *e, const zd::StatementFacts *facts) {
  if (facts != nullptr && facts->tx != zd::TxContext::Autocommit) return tool_name(facts->tool);
  if (!e->in_block) return who.tool_by_name;
  static LocalTransactionId found_in = InvalidLocalTransactionId;
  static zd::MigrationTool found = zd::MigrationTool::Unknown;
  if (found_in != ZD_MY_LXID || found == zd::MigrationTool::Unknown) {
    found = detect_migration_tool();
    found_in = ZD_MY_LXID;
  }
  return tool_name(found);
}

// A statement's fields after its key (and, in an 'S' record, its transaction id).
void put_statement(Writer &w, const JournalEntry *e, uint8 flags, fmt::Decision decision,
                   const char *rule, const zd::StatementFacts *facts) {
  w.put<uint8>(flags | (e->by_schema_role ? fmt::kBySchemaRole : 0) |
               (e->normalized ? fmt::kNormalized : 0) |
               (ZD_STANDARD_CONFORMING_STRINGS ? 0 : fmt::kBackslashQuotes));
  put_who(w);
  w.put_text(current_tool(e, facts));
  w.put<uint16>((uint16) e->command);
  w.put_text(e->object);
  w.put_text(e->statement, e->statement_len, fmt::kMaxStatement);
  w.put<uint8>(e->policy);
  w.put<uint8>(decision);
  w.put_text(rule);
}

void write_statement(JournalEntry *e, uint64 xid, uint8 flags, fmt::Decision decision,
                     const char *rule, const zd::StatementFacts *facts) {
  Buffer &b = buffer;
  b.reset();
  // (Room for it as its texts will be cut: the session's fields at most 5 kB, three more
  // texts at most 1 kB each, the statement's own length.)
  b.begin(fmt::kHeaderSize + 64 + 5 * 1028 + 3 * 1028 + 4 +
          (size_t) Min(e->statement_len, fmt::kMaxStatement));
  Writer w = b.writer();
  w.put_key('S', e->seq, e->started);
  w.put<uint64>(xid);
  put_statement(w, e, flags, decision, rule, facts);
  b.end(w);
  b.flush();
}

// An end record is at most this long (its locks text is cut at 1 kB).
constexpr size_t kMaxEndRecord = fmt::kHeaderSize + 64 + 1024;

void put_end(Writer &w, const Pending *p, TimestampTz now, uint8 outcome) {
  w.put<uint8>(outcome);
  w.put<int64>(p->wait_us);
  w.put<int64>(now - p->from);
  w.put_text(p->locks);
}

// Its end: an 'E' record, or the whole 'C' record of a deferred statement.
void add_end_record(const Pending *p, TimestampTz now, uint8 outcome) {
  Buffer &b = buffer;
  const bool whole = p->deferred;
  b.begin(kMaxEndRecord + (whole ? p->record_len + 16 : 0));
  Writer w = b.writer();
  if (whole) {
    // (The transaction id the reader asks the commit log about: the statement's effects
    // commit with the top transaction, if it has one by now.)
    w.put_bytes(p->record, p->record_len);
    const FullTransactionId top = GetTopFullTransactionIdIfAny();
    w.put<uint64>(FullTransactionIdIsValid(top) ? U64FromFullTransactionId(top) : 0);
    w.put<int64>(now);
  } else {
    w.put_key('E', p->seq, now);
  }
  put_end(w, p, now, outcome);
  b.end(w);
}

void release(Pending *p) {
  if (p->locks != nullptr) pfree(p->locks);
  p->locks = nullptr;
  spare[n_spare++] = p;
}

Pending *new_pending() {
  if (n_pending + n_spare >= pending_cap) {
    const int cap = pending_cap == 0 ? 8 : 2 * pending_cap;
    MemoryContext caller = MemoryContextSwitchTo(TopMemoryContext);
    pending = pending == nullptr ? (Pending **) palloc(cap * sizeof(Pending *))
                                 : (Pending **) repalloc(pending, cap * sizeof(Pending *));
    spare = spare == nullptr ? (Pending **) palloc(cap * sizeof(Pending *))
                             : (Pending **) repalloc(spare, cap * sizeof(Pending *));
    MemoryContextSwitchTo(caller);
    pending_cap = cap;
  }
  Pending *p = n_spare > 0 ? spare[--n_spare]
                           : (Pending *) MemoryContextAllocZero(TopMemoryContext, sizeof(Pending));
  pending[n_pending++] = p;
  return p;
}

enum class Which { All, NotRunning, Subtransaction, Deferred };

// Writes the end records of the pending statements that `which` selects, in one write.
// `outcome`: theirs; `spans_outcome`: that of one that commits on its own part way.
void finish(Which which, SubTransactionId subid, uint8 outcome, uint8 spans_outcome) {
  if (n_pending == 0) return;
  buffer.reset();
  TimestampTz now = 0;
  int kept = 0;
  for (int i = 0; i < n_pending; i++) {
    Pending *p = pending[i];
    bool ends;
    switch (which) {
      case Which::All: ends = true; break;
      case Which::NotRunning: ends = !p->running; break;
      case Which::Subtransaction: ends = p->subid == subid; break;
      case Which::Deferred: ends = !p->running && p->deferred; break;
    }
    if (!ends) {
      pending[kept++] = p;
      continue;
    }
    // (A deferred statement's record goes whole just before the commit, its outcome the commit
    // log's: a backend killed between here and the commit, or a commit that fails after all,
    // loses nothing, the reader finds the transaction not committed.  Nothing more to say
    // about it after that.)
    if (now == 0) now = GetCurrentTimestamp();
    add_end_record(p, now, which == Which::Deferred ? (uint8) fmt::kCommitting
                           : p->spans              ? spans_outcome
                                                   : outcome);
    release(p);
  }
  n_pending = kept;
  buffer.flush();
}

extern "C" void journal_xact_callback(XactEvent event, void *) {
  // (Every transaction of the backend comes here once it has journaled a statement: the ones
  // with nothing pending leave at once.)
  if (n_pending == 0 && event != XACT_EVENT_ABORT && event != XACT_EVENT_PARALLEL_ABORT) return;
  switch (event) {
    case XACT_EVENT_PRE_COMMIT:
    case XACT_EVENT_PARALLEL_PRE_COMMIT:
      finish(Which::Deferred, InvalidSubTransactionId, fmt::kCommitting, fmt::kCommitting);
      break;
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
      // (A statement still running committed a transaction of its own: not its end.)
      finish(Which::NotRunning, InvalidSubTransactionId, fmt::kCommitted, fmt::kCommitted);
      break;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
      journal_current = nullptr;
      memset(entry_taken, 0, sizeof entry_taken);
      finish(Which::All, InvalidSubTransactionId, fmt::kRolledBack, fmt::kFailed);
      break;
    case XACT_EVENT_PREPARE:
      finish(Which::All, InvalidSubTransactionId, fmt::kPrepared, fmt::kPrepared);
      break;
    default:
      break;
  }
}

extern "C" void journal_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
                                         SubTransactionId parentSubid, void *) {
  if (n_pending == 0) return;
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    finish(Which::Subtransaction, mySubid, fmt::kRolledBack, fmt::kFailed);
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    for (int i = 0; i < n_pending; i++)
      if (pending[i]->subid == mySubid) pending[i]->subid = parentSubid;
  }
}

}  // namespace


JournalEntry *journal_open(CommandTag command, const Node *stmt, const char *text, int length,
                           bool redact, bool by_schema_role, fmt::Policy policy) {
  JournalEntry *e = nullptr;
  for (int i = 0; i < kEntries && e == nullptr; i++)
    if (!entry_taken[i]) {
      entry_taken[i] = true;
      e = &entries[i];
    }
  if (e == nullptr) e = (JournalEntry *) palloc(sizeof(JournalEntry));
  e->seq = ++next_seq;
  // When it reached the hook: outside a transaction block, the statement's own start
  // (PostgreSQL's, already taken: no clock read), else the clock's.  Never before the one
  // before it (statements run by a function share their caller's start): the journal's order.
  static TimestampTz last_started = 0;
  e->in_block = IsTransactionBlock();
  e->started = e->in_block ? GetCurrentTimestamp() : GetCurrentStatementStartTimestamp();
  if (e->started <= last_started) e->started = last_started + 1;
  last_started = e->started;
  e->wait_from = 0;
  e->locked_at = 0;
  e->command = command;
  e->object = journal_object(stmt);
  e->policy = policy;
  e->by_schema_role = by_schema_role;
  e->pending = nullptr;
  if (length > fmt::kMaxStatement) length = fmt::kMaxStatement;
  // Normalized here only when a secret must not reach the file; otherwise by the reader (the
  // text as sent costs nothing to keep, its normalization ~20 instructions a byte).
  if (redact) {
    char *normalized = (char *) palloc(zd::normalized_capacity(length));
    e->statement_len = (int) zd::normalize_statement(text, length, normalized, true,
                                                     ZD_STANDARD_CONFORMING_STRINGS);
    e->statement = normalized;
    e->normalized = true;
  } else {
    e->statement = text;
    e->statement_len = length;
    e->normalized = false;
  }
  return e;
}

void journal_refused(JournalEntry *entry, const char *rule) {
  if (entry == nullptr || !journal_enabled()) return;
  write_statement(entry, 0, fmt::kRefused, fmt::kRefusedDecision, rule, nullptr);
}

void journal_running(JournalEntry *entry, fmt::Decision decision, const char *rule,
                     const zd::StatementFacts *facts, const char *locks, bool spans) {
  if (entry == nullptr || !journal_enabled() || entry->pending != nullptr) return;
  if (!callbacks_registered) {
    RegisterXactCallback(journal_xact_callback, nullptr);
    RegisterSubXactCallback(journal_subxact_callback, nullptr);
    callbacks_registered = true;
  }
  Pending *p = new_pending();
  p->seq = entry->seq;
  p->subid = GetCurrentSubTransactionId();
  p->lxid = ZD_MY_LXID;
  p->from = entry->started;
  p->wait_us = -1;
  p->locks = locks != nullptr ? MemoryContextStrdup(TopMemoryContext, locks) : nullptr;
  p->running = true;
  p->spans = spans;
  // Outside a transaction block the statement's transaction ends with it: its record waits
  // for that end and goes out whole, one write() a statement (XACT_EVENT_PRE_COMMIT, before
  // the commit, or at the abort).  A backend killed while it runs loses it with its
  // transaction, which never committed (as a server killed loses what it had not committed).
  // In a transaction block (a migration's), the record goes now and its end follows: a backend
  // killed before the commit leaves it, and the reader finds its transaction never committed.
  p->deferred = !spans && !entry->in_block;
  if (p->deferred) {
    // (Made in place: room for the largest, kept with the pending entry and reused.)
    if (p->record == nullptr)
      p->record = (char *) MemoryContextAlloc(TopMemoryContext, kMaxStatementPayload);
    Writer w{p->record, 0};
    w.put_key('C', entry->seq, entry->started);
    put_statement(w, entry, 0, decision, rule, facts);
    p->record_len = w.len;
  } else {
    // The transaction id the reader asks the commit log about if no end record follows.  The
    // statement would take one anyway (it writes the catalog); not in a read-only
    // transaction, where it fails, and has nothing to commit.  Nor for a statement that
    // commits on its own (DROP INDEX CONCURRENTLY must be the first action of its
    // transaction, before any id; and its first transaction's commit says nothing of its
    // end): the reader asks whether its backend still runs instead.
    uint64 xid = 0;
    if (!spans && !XactReadOnly && !RecoveryInProgress() && !IsInParallelMode())
      xid = U64FromFullTransactionId(GetCurrentFullTransactionId());
    write_statement(entry, xid, spans ? fmt::kSpans : 0, decision, rule, facts);
  }
  entry->pending = p;
}

void journal_lock_wait_begins(JournalEntry *entry) {
  if (entry == nullptr || entry->locked_at != 0 || entry->wait_from != 0) return;
  entry->wait_from = GetCurrentTimestamp();
}

void journal_lock_granted(JournalEntry *entry) {
  if (entry == nullptr || entry->pending == nullptr || entry->locked_at != 0) return;
  Pending *p = entry->pending;
  entry->locked_at = GetCurrentTimestamp();
  // (From when the guard asked for the lock; else from the statement's start.)
  p->wait_us = entry->locked_at - (entry->wait_from != 0 ? entry->wait_from : entry->started);
  p->from = entry->locked_at;
}

void journal_ran(JournalEntry *entry) {
  if (entry >= entries && entry < entries + kEntries) entry_taken[entry - entries] = false;
  if (entry == nullptr || entry->pending == nullptr) return;
  Pending *p = entry->pending;
  entry->pending = nullptr;
  p->running = false;
  // It committed transactions of its own (CONCURRENTLY, a rewrite) and got to its end: done.
  if (p->lxid != ZD_MY_LXID || p->spans) {
    p->subid = InvalidSubTransactionId;
    finish(Which::Subtransaction, InvalidSubTransactionId, fmt::kCommitted, fmt::kCommitted);
  }
}

const char *journal_locks_of(const zd::StatementFacts *facts) {
  if (facts == nullptr || journal_current == nullptr) return nullptr;
  // (A static buffer: journal_running copies it.  Cut at 1 kB, as the record would.)
  static char out[1024];
  size_t len = 0;
  auto add = [&](const char *s) {
    const size_t n = Min(strlen(s), sizeof out - 1 - len);
    memcpy(out + len, s, n);
    len += n;
  };
  int listed = 0;
  for (size_t i = 0; i < facts->ops.size(); i++) {
    const zd::Operation &op = facts->ops[i];
    if (op.lock == zd::Lock::None || !op.table.exists) continue;
    // The strongest lock on each relation, once.
    bool stronger_elsewhere = false;
    for (size_t j = 0; j < facts->ops.size() && !stronger_elsewhere; j++)
      stronger_elsewhere = j != i && facts->ops[j].table.oid == op.table.oid &&
                           (facts->ops[j].lock > op.lock || (facts->ops[j].lock == op.lock && j < i));
    if (stronger_elsewhere) continue;
    if (++listed > 8) {
      add(", ...");
      break;
    }
    if (len > 0) add(", ");
    add(zd::lock_name(op.lock));
    add(" on ");
    add(op.table.name.c_str());
  }
  out[len] = '\0';
  return out;
}

}  // namespace zd::pg
