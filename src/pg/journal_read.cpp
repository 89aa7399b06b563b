// zd_journal(): the DDL journal's records (journal_format.hpp), each statement joined with its
// end record; a statement without one (its backend or the server was killed, or it is still
// running), or written just before its commit, gets its outcome from the commit log.  Superusers and pg_read_all_stats only.
#include "pg/journal.hpp"
#include "pg/journal_format.hpp"
#include "pg/journal_stage.hpp"
#include "pg/boundary.hpp"
#include "core/sql_normalize.hpp"

extern "C" {
#include "catalog/pg_authid.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/xid8.h"
#include "tcop/cmdtag.h"
}

namespace zd::pg {
namespace {

namespace fmt = journal_format;

// How many command tags this server has (its cmdtaglist.h counted: COMMAND_TAG_NEXTTAG is gone
// from 16 on): a recorded tag beyond them is not trusted.
#define PG_CMDTAG(tag, name, evtrgok, rwrok, rowcnt) +1
constexpr int kCommandTags = 0
#include "tcop/cmdtaglist.h"
    ;
#undef PG_CMDTAG

struct Key {
  int32 pid;
  int32 pad;
  int64 backend_start;
  uint32 seq;
  uint32 pad2;
};

struct Statement {
  Key key;
  TimestampTz at;
  uint64 xid;
  uint8 flags;
  const char *text[12];  // database ... rule, as zd_journal() shows them
};

struct End {
  Key key;  // (the hash key: first)
  TimestampTz at;
  uint8 outcome;
  int64 wait_us, hold_us;
  const char *locks;
};

// Reads a file whole (nullptr when it is not there).
StringInfo read_whole(const char *path) {
  FILE *f = AllocateFile(path, PG_BINARY_R);
  if (f == nullptr) {
    if (errno == ENOENT) return nullptr;
    ereport(ERROR, (errcode_for_file_access(),
                    errmsg("zero_downtime: could not open the DDL journal \"%s\": %m", path)));
  }
  StringInfo buf = makeStringInfo();
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if ((size_t) buf->len + n >= MaxAllocSize - 1) break;  // (a file beyond 1 GB: its start)
    appendBinaryStringInfo(buf, chunk, (int) n);
  }
  FreeFile(f);
  return buf;
}

struct Cursor {
  const char *p, *end;
  bool ok = true;
  template <typename T>
  T get() {
    T v{};
    if (end - p < (ptrdiff_t) sizeof v) {
      ok = false;
      return v;
    }
    memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  const char *text() {
    const uint32 len = get<uint32>();
    if (!ok || len == fmt::kNullText) return nullptr;
    if ((uint64) (end - p) < len) {
      ok = false;
      return nullptr;
    }
    const char *t = pnstrdup(p, len);
    p += len;
    return t;
  }
};

// Every valid record of `buf`, in order: statements appended to *statements (once: a record
// can be read twice, staged and written out, or written out again after a crash between its
// write and its slot's reset), ends to `ends`.
void parse(const StringInfo buf, List **statements, HTAB *ends, HTAB *seen) {
  const char *data = buf->data;
  const int len = buf->len;
  int pos = 0;
  while (pos + fmt::kHeaderSize <= len) {
    if (memcmp(data + pos, fmt::kMagic, 4) != 0) {
      pos++;  // (after a record cut short: look for the next one)
      continue;
    }
    uint32 payload, crc;
    memcpy(&payload, data + pos + 4, 4);
    memcpy(&crc, data + pos + 8, 4);
    if (payload > fmt::kMaxPayload || pos + fmt::kHeaderSize + (int64) payload > len) {
      pos++;
      continue;
    }
    const char *body = data + pos + fmt::kHeaderSize;
    pg_crc32c actual;
    INIT_CRC32C(actual);
    COMP_CRC32C(actual, body, payload);
    FIN_CRC32C(actual);
    if (actual != crc) {
      pos++;
      continue;
    }
    pos += fmt::kHeaderSize + payload;
    Cursor c{body, body + payload};
    const char type = c.get<char>();
    Key key{};
    key.pid = c.get<int32>();
    key.backend_start = c.get<int64>();
    key.seq = c.get<uint32>();
    const TimestampTz at = c.get<int64>();
    if (type == 'S' || type == 'C') {
      Statement *s = (Statement *) palloc0(sizeof(Statement));
      s->key = key;
      s->at = at;
      if (type == 'S') s->xid = c.get<uint64>();
      s->flags = c.get<uint8>();
      const char **t = s->text;
      for (int i = 0; i < 6; i++) *t++ = c.text();  // database ... tool
      const uint16 tag = c.get<uint16>();
      *t++ = tag < kCommandTags ? GetCommandTagName((CommandTag) tag) : "?";
      *t++ = c.text();  // object
      *t++ = c.text();  // statement
      const uint8 policy = c.get<uint8>(), decision = c.get<uint8>();
      *t++ = policy < fmt::kNumPolicies ? fmt::kPolicies[policy] : "?";
      *t++ = decision < fmt::kNumDecisions ? fmt::kDecisions[decision] : "?";
      *t++ = c.text();  // rule
      End e{};
      if (type == 'C') {  // its end too
        s->xid = c.get<uint64>();
        e.key = key;
        e.at = c.get<int64>();
        e.outcome = c.get<uint8>();
        e.wait_us = c.get<int64>();
        e.hold_us = c.get<int64>();
        e.locks = c.text();
      }
      if (!c.ok) continue;
      bool again;
      hash_search(seen, &key, HASH_ENTER, &again);
      if (again) continue;
      const char *&text = s->text[8];  // the statement
      if (text != nullptr && !(s->flags & fmt::kNormalized)) {
        const size_t n = strlen(text);
        char *normalized = (char *) palloc(zd::normalized_capacity(n));
        zd::normalize_statement(text, n, normalized, false, !(s->flags & fmt::kBackslashQuotes));
        text = normalized;
      }
      *statements = lappend(*statements, s);
      if (type == 'C') {
        // (Unless its 'E' record, which always comes after it, was read first: staged.)
        bool found;
        End *slot = (End *) hash_search(ends, &key, HASH_ENTER, &found);
        if (!found) *slot = e;
      }
    } else if (type == 'E') {
      End e{};
      e.key = key;
      e.at = at;
      e.outcome = c.get<uint8>();
      e.wait_us = c.get<int64>();
      e.hold_us = c.get<int64>();
      e.locks = c.text();
      if (!c.ok) continue;
      bool found;
      End *slot = (End *) hash_search(ends, &key, HASH_ENTER, &found);
      *slot = e;
    }
  }
}

// pg_xact_status() of a full transaction id: "committed", "aborted", "in progress", or nullptr
// when it is too old for the commit log.
const char *xact_status(uint64 xid) {
  LOCAL_FCINFO(fcinfo, 1);
  InitFunctionCallInfoData(*fcinfo, nullptr, 1, InvalidOid, nullptr, nullptr);
  fcinfo->args[0].value = FullTransactionIdGetDatum(FullTransactionIdFromU64(xid));
  fcinfo->args[0].isnull = false;
  Datum result = pg_xact_status(fcinfo);
  return fcinfo->isnull ? nullptr : text_to_cstring(DatumGetTextPP(result));
}

const char *outcome_of(const Statement *s, const End *e) {
  if (s->flags & fmt::kRefused) return "refused";
  if (e != nullptr && e->outcome != fmt::kPrepared && e->outcome != fmt::kCommitting) {
    switch (e->outcome) {
      case fmt::kCommitted: return "committed";
      case fmt::kRolledBack: return "rolled back";
      case fmt::kFailed: return "failed";
    }
    return "unknown";
  }
  // No end record, a prepared transaction, or written just before the commit: the commit log
  // says.
  if (s->flags & fmt::kSpans) {
    // Its first transaction committed long before it ended: only whether it still runs.
    return BackendPidGetProc(s->key.pid) != nullptr ? "in progress" : "interrupted";
  }
  const bool committing = e != nullptr && e->outcome == fmt::kCommitting;
  // (No transaction id: nothing to commit.  Just before a commit, that commit had nothing to
  // write; otherwise the transaction never got one.)
  if (s->xid == 0) return committing ? "committed" : "rolled back";
  const char *status = xact_status(s->xid);
  if (status == nullptr) return "unknown";
  if (strcmp(status, "committed") == 0) return "committed";
  if (strcmp(status, "aborted") == 0) return "rolled back";
  // (In progress: a backend killed just before its commit, and the server not restarted yet,
  // still shows so until the crash restart.)
  return committing ? "committing" : e != nullptr ? "prepared" : "in progress";
}

// In the order they reached the hook (records are read a slot at a time, not in that order).
int by_time(const ListCell *a, const ListCell *b) {
  const Statement *x = (const Statement *) lfirst(a), *y = (const Statement *) lfirst(b);
  if (x->at != y->at) return x->at < y->at ? -1 : 1;
  if (x->key.pid != y->key.pid) return x->key.pid < y->key.pid ? -1 : 1;
  return x->key.seq < y->key.seq ? -1 : x->key.seq > y->key.seq ? 1 : 0;
}

void require_reader() {
  if (!superuser() && !has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS))
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("permission denied to read the zero_downtime DDL journal"),
                    errdetail("The journal shows every role's statements, from every database."),
                    errhint("Only superusers and members of pg_read_all_stats may read it: GRANT "
                            "pg_read_all_stats TO %s;",
                            quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

}  // namespace
}  // namespace zd::pg

ZD_SQL_FUNCTION(zd_journal) {
  using namespace zd::pg;
  require_reader();
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
  HASHCTL ctl{};
  ctl.keysize = sizeof(Key);
  ctl.entrysize = sizeof(End);
  ctl.hcxt = CurrentMemoryContext;
  HTAB *ends = hash_create("zero_downtime journal ends", 1024, &ctl,
                           HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
  ctl.entrysize = sizeof(Key);
  HTAB *seen = hash_create("zero_downtime journal statements", 1024, &ctl,
                           HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
  List *statements = NIL;
  // The staged records first: one written out to the file while this reads is then read twice
  // (once), never missed.
  parse(journal_staged(), &statements, ends, seen);
  for (const char *path : {fmt::kOldFile, fmt::kFile}) {
    StringInfo buf = read_whole(path);
    if (buf != nullptr) parse(buf, &statements, ends, seen);
  }
  list_sort(statements, by_time);
  ListCell *lc;
  foreach (lc, statements) {
    const Statement *s = (const Statement *) lfirst(lc);
    const End *e = (const End *) hash_search(ends, &s->key, HASH_FIND, nullptr);
    Datum values[20];
    bool nulls[20] = {};
    int i = 0;
    auto column = [&](bool is_null, Datum value) {
      nulls[i] = is_null;
      values[i++] = is_null ? (Datum) 0 : value;
    };
    auto text_column = [&](const char *t) {
      column(t == nullptr, t != nullptr ? CStringGetTextDatum(t) : (Datum) 0);
    };
    const bool ended = e != nullptr;
    column(false, TimestampTzGetDatum(s->at));
    for (const char *t : s->text) text_column(t);  // database ... rule
    column(false, BoolGetDatum((s->flags & fmt::kBySchemaRole) != 0));
    text_column(ended ? e->locks : nullptr);
    column(!ended || e->wait_us < 0, Float8GetDatum(ended ? e->wait_us / 1000.0 : 0));
    column(!ended, Float8GetDatum(ended ? e->hold_us / 1000.0 : 0));
    text_column(outcome_of(s, e));
    column(!ended, TimestampTzGetDatum(ended ? e->at : 0));
    column(false, Int32GetDatum(s->key.pid));
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum) 0;
}
