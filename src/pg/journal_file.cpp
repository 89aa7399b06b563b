// The journal file: $PGDATA/zero_downtime/journal and journal.old, the segment before it
// (journal_format.hpp), appended to by journal_write_file: a full staging slot at a time
// (journal_stage.hpp), or a record at a time when there is no slot.  Its shared state (the
// current segment's size, the rotations) and, at server start, the move of what was left
// staged.
#include "pg/journal.hpp"

#include "pg/journal_format.hpp"
#include "pg/journal_stage.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include "common/file_perm.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
}

namespace zd::pg {

namespace fmt = journal_format;

bool journal_preloaded = false;

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

void close_file() {
  if (fd >= 0) close(fd);
  fd = -1;
}

extern "C" void journal_shmem_request(void) {
  if (prev_shmem_request) prev_shmem_request();
  RequestAddinShmemSpace(sizeof(Shared));
}

extern "C" void journal_shmem_startup(void) {
  if (prev_shmem_startup) prev_shmem_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found;
  shared = (Shared *) ShmemInitStruct("zero_downtime journal", sizeof(Shared), &found);
  journal_preloaded = true;
  if (!found) {
    // (Also after a crash restart: the file outlives shared memory, its size is the truth.)
    struct stat st;
    pg_atomic_init_u64(&shared->bytes, stat(fmt::kFile, &st) == 0 ? (uint64) st.st_size : 0);
    pg_atomic_init_u32(&shared->generation, 0);
    if (MakePGDirectory(fmt::kDirectory) < 0 && errno != EEXIST)
      ereport(LOG, (errcode_for_file_access(),
                    errmsg("zero_downtime: could not create directory \"%s\": %m",
                           fmt::kDirectory)));
    // What a killed backend or server left staged goes to the file now, before any backend
    // stages more.  (The file is closed again: backends open their own.)
    journal_stage_recover();
    close_file();
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
// the journal holds about half to all of it.  A writer claims its bytes in the segment before
// writing them (a compare-and-swap on the segment's size); the one whose bytes would take it
// past the half starts a new segment instead: it claims the new one's first bytes and renames
// the file to .old, and the others see the generation change and reopen.  (A write that
// claimed its bytes in the old segment a moment before lands in it, renamed: kept.)  True when
// this writer must start the new segment.
bool claim(size_t len) {
  const uint64 half = (uint64) guc_journal_size_kb * 1024 / 2;
  uint64 before = pg_atomic_read_u64(&shared->bytes);
  for (;;) {
    // (No size: the journal was switched off, and what was staged before is written out, at
    // its backend's exit or the server's start: appended, the segments kept as they are.)
    const bool starts_new = half > 0 && before > 0 && before + len > half;
    if (pg_atomic_compare_exchange_u64(&shared->bytes, &before, starts_new ? len : before + len))
      return starts_new;
  }
}

void start_new_segment() {
  if (rename(fmt::kFile, fmt::kOldFile) != 0) {
    warn_write_failure("rotate");
    return;
  }
  pg_atomic_fetch_add_u32(&shared->generation, 1);
}

}  // namespace

bool journal_write_file(const char *data, size_t len) {
  if (shared == nullptr || len == 0) return true;
  if (claim(len)) start_new_segment();
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
      return false;
    }
    fd_generation = generation;
  }
  ssize_t written;
  do {
    written = write(fd, data, len);
  } while (written < 0 && errno == EINTR);
  if (written != (ssize_t) len) {
    if (written >= 0) errno = ENOSPC;
    warn_write_failure("write to");
    return false;
  }
  return true;
}

void journal_install_hooks() {
  prev_shmem_request = shmem_request_hook;
  shmem_request_hook = journal_shmem_request;
  prev_shmem_startup = shmem_startup_hook;
  shmem_startup_hook = journal_shmem_startup;
}

}  // namespace zd::pg
