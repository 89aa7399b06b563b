// The journal's file format, shared by the writer (journal.cpp) and the reader
// (journal_read.cpp).  Files: zero_downtime/journal under the data directory, and
// zero_downtime/journal.old, the segment before it.  A record is
//   magic "\0ZDJ" | payload length (uint32) | CRC-32C of the payload (uint32) | payload
// staged whole in a backend's slot (journal_stage.hpp) and appended to the file with the rest
// of the slot by one write() on a file opened O_APPEND, so records of concurrent backends never
// interleave.  The staging file's slots hold records in this same format.  A record cut short (the server killed during the write) fails its CRC and the
// reader looks for the next magic; the magic starts with a NUL byte, which no text of a record
// can contain, so a statement's text can never pass for a record of its own.
// Payloads (integers in the machine's byte order, texts as uint32 length + bytes, 0xFFFFFFFF
// for NULL; the command as PostgreSQL's CommandTag, u16, the policy and the decision as the
// codes below, u8: fewer bytes to checksum and copy for every statement):
//   'S' a statement, written before it runs (or when it is refused):
//       pid i32, backend start i64, seq u32 | at i64 | xid u64 (full; 0: none) | flags u8 |
//       database, role, session role, application_name, client address, tool | command u16 |
//       object, statement (as sent, unless flags say normalized) | policy u8 | decision u8 |
//       rule
//   'E' its end, written when its transaction (or subtransaction) ends:
//       pid i32, backend start i64, seq u32 | at i64 | outcome u8 | wait_us i64 (-1: not
//       measured) | hold_us i64 | locks
//   'C' a statement and its end in one record (outside a transaction block), staged at its
//       transaction's abort, or just before its commit (outcome kCommitting: the commit log
//       says whether it committed; older journals may have an 'E' record after it, which
//       then says):
//       pid i32, backend start i64, seq u32 | at i64 | the fields of 'S' from flags on |
//       xid u64 (full, top transaction; 0: none) | ended at i64 | outcome u8 | wait_us i64 |
//       hold_us i64 | locks
#pragma once

#include <cstdint>

namespace zd::pg::journal_format {

constexpr char kMagic[4] = {'\0', 'Z', 'D', 'J'};
constexpr int kHeaderSize = 12;
constexpr uint32_t kMaxPayload = 64 * 1024;
constexpr uint32_t kNullText = 0xFFFFFFFF;
constexpr int kMaxStatement = 8 * 1024;  // statement text kept, in bytes

constexpr const char *kDirectory = "zero_downtime";
constexpr const char *kFile = "zero_downtime/journal";
constexpr const char *kOldFile = "zero_downtime/journal.old";

enum Flags : uint8_t {
  kBySchemaRole = 1,  // current_user was a member of a schema role
  kSpans = 2,         // the statement commits on its own part way (CONCURRENTLY, a rewrite)
  kRefused = 4,       // refused: it never ran, no end record follows
  kNormalized = 8,    // the statement's text is normalized (and redacted) already; else the
                      // reader normalizes it (core/sql_normalize.hpp)
  kBackslashQuotes = 16,  // written with standard_conforming_strings off
};

// What the schema drift policy did, what the guard decided: recorded as these codes, their
// names in zd_journal() (the tables below, in the same order).
enum Policy : uint8_t { kPolicyOff, kPolicySchemaRole, kPolicyExempt, kPolicyAllowed, kPolicyWarned,
                        kPolicyRefused };
enum Decision : uint8_t { kAllowed, kWarned, kRewritten, kDeferred, kRefusedDecision };
constexpr const char *kPolicies[] = {"off", "schema role", "exempt", "allowed", "warned", "refused"};
constexpr const char *kDecisions[] = {"allowed", "warned", "rewritten", "deferred", "refused"};
constexpr int kNumPolicies = sizeof kPolicies / sizeof kPolicies[0];
constexpr int kNumDecisions = sizeof kDecisions / sizeof kDecisions[0];

enum Outcome : uint8_t {
  kCommitted = 1,
  kRolledBack = 2,
  kPrepared = 3,  // PREPARE TRANSACTION: the xid's fate tells the rest
  kFailed = 4,    // a statement of kSpans that failed part way
  kCommitting = 5,  // written just before the commit: the commit log says whether it did
};

}  // namespace zd::pg::journal_format
