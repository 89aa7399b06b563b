#include "pg/journal.hpp"

#include "pg/journal_format.hpp"
#include "pg/migration_tool.hpp"
#include "pg/schema_roles.hpp"
#include "core/sql_normalize.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "common/file_perm.h"
#include "commands/dbcommands.h"
#include "common/ip.h"
#include "lib/stringinfo.h"
#include "libpq/libpq-be.h"
#include "mb/pg_wchar.h"
#include "port/atomics.h"
#include "port/pg_crc32c.h"
#include "parser/parser.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
}

namespace zd::pg {

namespace fmt = journal_format;

JournalEntry *journal_current = nullptr;
int guc_journal_size_kb = 16 * 1024;

struct JournalEntry {
  uint32 seq;
  TimestampTz started;    // when the statement reached the hook
  TimestampTz locked_at;  // its first lock granted (0: not measured)
  const char *command, *object, *statement, *policy;
  bool by_schema_role;
  struct Pending *pending;  // once it runs
};

// A statement that ran, waiting for its transaction's end (in TopMemoryContext).
struct Pending {
  uint32 seq;
  SubTransactionId subid;       // the (sub)transaction it ran in
  LocalTransactionId lxid;      // the transaction it started in
  TimestampTz from;             // its lock granted, or its start
  int64 wait_us;                // -1: not measured
  char *locks;                  // nullptr: not known
  bool running;                 // still running: an internal commit is not its end
  bool spans;
};

namespace {

struct Shared {
  pg_atomic_uint64 bytes;       // written to the current segment (about: for rotation)
  pg_atomic_uint32 generation;  // bumped by each rotation: backends reopen the file
};
Shared *shared = nullptr;
shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;

int fd = -1;
uint32 fd_generation = 0;
bool warned_write_failure = false;
uint32 next_seq = 0;
List *pending = NIL;  // of Pending *, in TopMemoryContext
bool callbacks_registered = false;

extern "C" void journal_shmem_request(void) {
  if (prev_shmem_request) prev_shmem_request();
  RequestAddinShmemSpace(sizeof(Shared));
}

extern "C" void journal_shmem_startup(void) {
  if (prev_shmem_startup) prev_shmem_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found;
  shared = (Shared *) ShmemInitStruct("zero_downtime journal", sizeof(Shared), &found);
  if (!found) {
    // (Also after a crash restart: the file outlives shared memory, its size is the truth.)
    struct stat st;
    pg_atomic_init_u64(&shared->bytes, stat(fmt::kFile, &st) == 0 ? (uint64) st.st_size : 0);
    pg_atomic_init_u32(&shared->generation, 0);
    if (MakePGDirectory(fmt::kDirectory) < 0 && errno != EEXIST)
      ereport(LOG, (errcode_for_file_access(),
                    errmsg("zero_downtime: could not create directory \"%s\": %m",
                           fmt::kDirectory)));
  }
  LWLockRelease(AddinShmemInitLock);
}

// ---- writing ----------------------------------------------------------------------------

void warn_write_failure(const char *what) {
  if (warned_write_failure) return;
  warned_write_failure = true;  // once a backend: the statement goes on, unrecorded
  ereport(WARNING, (errcode_for_file_access(),
                    errmsg("zero_downtime: could not %s the DDL journal \"%s\": %m", what,
                           fmt::kFile),
                    errdetail("Schema changes of this session may be missing from the journal.")));
}

// The segment is half of zero_downtime.journal_size: the one before it is kept as .old, so
// the journal holds between half and all of it.  One backend rotates (the one whose append
// crosses the half); the others see the generation change and reopen.
void rotate_if_full(uint64 before, size_t len) {
  const uint64 half = (uint64) guc_journal_size_kb * 1024 / 2;
  if (!(before < half && before + len >= half)) return;
  if (rename(fmt::kFile, fmt::kOldFile) != 0) {
    warn_write_failure("rotate");
    return;
  }
  pg_atomic_write_u64(&shared->bytes, 0);
  pg_atomic_fetch_add_u32(&shared->generation, 1);
}

void append(const StringInfoData *buf) {
  if (shared == nullptr || buf->len == 0) return;
  const uint32 generation = pg_atomic_read_u32(&shared->generation);
  if (fd >= 0 && fd_generation != generation) {
    close(fd);
    fd = -1;
  }
  if (fd < 0) {
    fd = BasicOpenFilePerm(fmt::kFile, O_WRONLY | O_APPEND | O_CREAT | PG_BINARY,
                           pg_file_create_mode);
    if (fd < 0) {
      warn_write_failure("open");
      return;
    }
    fd_generation = generation;
  }
  ssize_t written;
  do {
    written = write(fd, buf->data, buf->len);
  } while (written < 0 && errno == EINTR);
  if (written != buf->len) {
    if (written >= 0) errno = ENOSPC;
    warn_write_failure("write to");
    return;
  }
  rotate_if_full(pg_atomic_fetch_add_u64(&shared->bytes, buf->len), buf->len);
}

// ---- records ----------------------------------------------------------------------------

void put_bytes(StringInfo buf, const void *p, int n) { appendBinaryStringInfo(buf, (const char *) p, n); }
template <typename T>
void put(StringInfo buf, T value) {
  put_bytes(buf, &value, sizeof value);
}
void put_text(StringInfo buf, const char *text, int max = 1024) {
  if (text == nullptr) {
    put<uint32>(buf, fmt::kNullText);
    return;
  }
  const int len = pg_mbcliplen(text, strlen(text), max);
  put<uint32>(buf, (uint32) len);
  put_bytes(buf, text, len);
}

// Starts a record in `buf`: its header is filled by end_record.
int begin_record(StringInfo buf, char type, uint32 seq, TimestampTz at) {
  const int start = buf->len;
  put_bytes(buf, fmt::kMagic, 4);
  put<uint32>(buf, 0);
  put<uint32>(buf, 0);
  put<char>(buf, type);
  put<int32>(buf, MyProcPid);
  put<int64>(buf, MyStartTimestamp);
  put<uint32>(buf, seq);
  put<int64>(buf, at);
  return start;
}

void end_record(StringInfo buf, int start) {
  const uint32 len = (uint32) (buf->len - start - fmt::kHeaderSize);
  pg_crc32c crc;
  INIT_CRC32C(crc);
  COMP_CRC32C(crc, buf->data + start + fmt::kHeaderSize, len);
  FIN_CRC32C(crc);
  memcpy(buf->data + start + 4, &len, 4);
  memcpy(buf->data + start + 8, &crc, 4);
}

const char *client_address() {
  static char address[NI_MAXHOST + 1];
  static bool known = false;
  if (known) return address[0] != '\0' ? address : nullptr;
  known = true;
  if (MyProcPort == nullptr) return nullptr;  // a background worker
  if (MyProcPort->raddr.addr.ss_family == AF_UNIX) {
    strlcpy(address, "[local]", sizeof address);
  } else if (pg_getnameinfo_all(&MyProcPort->raddr.addr, MyProcPort->raddr.salen, address,
                                sizeof address, nullptr, 0, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    address[0] = '\0';
    return nullptr;
  }
  return address;
}

const char *database_name() {
  static char name[NAMEDATALEN];
  static Oid of = InvalidOid;
  if (of != MyDatabaseId) {
    const char *n = get_database_name(MyDatabaseId);
    strlcpy(name, n != nullptr ? n : "?", sizeof name);
    of = MyDatabaseId;
  }
  return name;
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
// transaction while it is not found), by application_name alone in autocommit (as gather).
const char *current_tool(const zd::StatementFacts *facts) {
  if (facts != nullptr && facts->tx != zd::TxContext::Autocommit) return tool_name(facts->tool);
  if (!IsTransactionBlock())
    return application_name != nullptr && strcmp(application_name, "psql") == 0 ? "psql"
                                                                                 : nullptr;
  static LocalTransactionId found_in = InvalidLocalTransactionId;
  static zd::MigrationTool found = zd::MigrationTool::Unknown;
  if (found_in != ZD_MY_LXID || found == zd::MigrationTool::Unknown) {
    found = detect_migration_tool();
    found_in = ZD_MY_LXID;
  }
  return tool_name(found);
}

void write_statement(JournalEntry *e, uint64 xid, uint8 flags, const char *decision,
                     const char *rule, const char *tool) {
  StringInfoData buf;
  initStringInfo(&buf);
  const int start = begin_record(&buf, 'S', e->seq, e->started);
  put<uint64>(&buf, xid);
  put<uint8>(&buf, flags | (e->by_schema_role ? fmt::kBySchemaRole : 0));
  put_text(&buf, database_name());
  put_text(&buf, role_name(GetUserId()));
  put_text(&buf, role_name(GetSessionUserId()));
  put_text(&buf, application_name);
  put_text(&buf, client_address());
  put_text(&buf, tool);
  put_text(&buf, e->command);
  put_text(&buf, e->object);
  put_text(&buf, e->statement, fmt::kMaxStatement);
  put_text(&buf, e->policy);
  put_text(&buf, decision);
  put_text(&buf, rule);
  end_record(&buf, start);
  append(&buf);
  pfree(buf.data);
}

void add_end_record(StringInfo buf, const Pending *p, TimestampTz now, uint8 outcome) {
  const int start = begin_record(buf, 'E', p->seq, now);
  put<uint8>(buf, outcome);
  put<int64>(buf, p->wait_us);
  put<int64>(buf, now - p->from);
  put_text(buf, p->locks);
  end_record(buf, start);
}

enum class Which { All, NotRunning, Subtransaction };

// Writes the end records of the pending statements that `which` selects, in one write.
void finish(Which which, SubTransactionId subid, uint8 outcome, uint8 spans_outcome) {
  if (pending == NIL) return;
  MemoryContext caller = MemoryContextSwitchTo(TopMemoryContext);
  StringInfoData buf;
  initStringInfo(&buf);
  const TimestampTz now = GetCurrentTimestamp();
  List *kept = NIL;
  ListCell *lc;
  foreach (lc, pending) {
    Pending *p = (Pending *) lfirst(lc);
    const bool ends = which == Which::All || (which == Which::NotRunning && !p->running) ||
                      (which == Which::Subtransaction && p->subid == subid);
    if (!ends) {
      kept = lappend(kept, p);
      continue;
    }
    add_end_record(&buf, p, now, p->spans ? spans_outcome : outcome);
    if (p->locks != nullptr) pfree(p->locks);
    pfree(p);
  }
  list_free(pending);
  pending = kept;
  append(&buf);
  pfree(buf.data);
  MemoryContextSwitchTo(caller);
}

extern "C" void journal_xact_callback(XactEvent event, void *) {
  switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
      // (A statement still running committed a transaction of its own: not its end.)
      finish(Which::NotRunning, InvalidSubTransactionId, fmt::kCommitted, fmt::kCommitted);
      break;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
      journal_current = nullptr;
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
  if (pending == NIL) return;
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    finish(Which::Subtransaction, mySubid, fmt::kRolledBack, fmt::kFailed);
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    ListCell *lc;
    foreach (lc, pending) {
      Pending *p = (Pending *) lfirst(lc);
      if (p->subid == mySubid) p->subid = parentSubid;
    }
  }
}

}  // namespace

bool journal_enabled() { return shared != nullptr && guc_journal_size_kb > 0; }

void journal_install_hooks() {
  prev_shmem_request = shmem_request_hook;
  shmem_request_hook = journal_shmem_request;
  prev_shmem_startup = shmem_startup_hook;
  shmem_startup_hook = journal_shmem_startup;
}

JournalEntry *journal_open(const char *command, const char *object, const char *text,
                           int length, bool redact, bool by_schema_role, const char *policy) {
  JournalEntry *e = (JournalEntry *) palloc0(sizeof(JournalEntry));
  e->seq = ++next_seq;
  e->started = GetCurrentTimestamp();
  e->command = command;
  e->object = object;
  e->policy = policy;
  e->by_schema_role = by_schema_role;
  if (length > fmt::kMaxStatement) length = fmt::kMaxStatement;
  char *normalized = (char *) palloc(zd::normalized_capacity(length));
  zd::normalize_statement(text, length, normalized, redact, standard_conforming_strings);
  e->statement = normalized;
  return e;
}

void journal_refused(JournalEntry *entry, const char *rule) {
  if (entry == nullptr || !journal_enabled()) return;
  write_statement(entry, 0, fmt::kRefused, "refused", rule, current_tool(nullptr));
}

void journal_running(JournalEntry *entry, const char *decision, const char *rule,
                     const zd::StatementFacts *facts, const char *locks, bool spans) {
  if (entry == nullptr || !journal_enabled() || entry->pending != nullptr) return;
  if (!callbacks_registered) {
    RegisterXactCallback(journal_xact_callback, nullptr);
    RegisterSubXactCallback(journal_subxact_callback, nullptr);
    callbacks_registered = true;
  }
  // The transaction id the reader asks the commit log about if no end record follows.  The
  // statement would take one anyway (it writes the catalog); not in a read-only transaction,
  // where it fails, and has nothing to commit.  Nor for a statement that commits on its own
  // (DROP INDEX CONCURRENTLY must be the first action of its transaction, before any id; and
  // its first transaction's commit says nothing of its end): the reader asks whether its
  // backend still runs instead.
  uint64 xid = 0;
  if (!spans && !XactReadOnly && !RecoveryInProgress() && !IsInParallelMode())
    xid = U64FromFullTransactionId(GetCurrentFullTransactionId());
  write_statement(entry, xid, spans ? fmt::kSpans : 0, decision, rule, current_tool(facts));

  MemoryContext caller = MemoryContextSwitchTo(TopMemoryContext);
  Pending *p = (Pending *) palloc0(sizeof(Pending));
  p->seq = entry->seq;
  p->subid = GetCurrentSubTransactionId();
  p->lxid = ZD_MY_LXID;
  p->from = entry->started;
  p->wait_us = -1;
  p->locks = locks != nullptr ? pstrdup(locks) : nullptr;
  p->running = true;
  p->spans = spans;
  pending = lappend(pending, p);
  MemoryContextSwitchTo(caller);
  entry->pending = p;
}

void journal_lock_granted(JournalEntry *entry) {
  if (entry == nullptr || entry->pending == nullptr || entry->locked_at != 0) return;
  entry->locked_at = GetCurrentTimestamp();
  entry->pending->from = entry->locked_at;
  entry->pending->wait_us = entry->locked_at - entry->started;
}

void journal_ran(JournalEntry *entry) {
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
  StringInfoData out;
  initStringInfo(&out);
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
      appendStringInfoString(&out, ", ...");
      break;
    }
    appendStringInfo(&out, "%s%s on %s", out.len > 0 ? ", " : "", zd::lock_name(op.lock),
                     op.table.name.c_str());
  }
  return out.data;
}

}  // namespace zd::pg
