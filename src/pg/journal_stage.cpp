// The DDL journal's staging area (journal_stage.hpp): a file of one slot a backend, each slot
// mapped by its own backend alone, so that staging a record is writing it there and counting
// it: no lock, no atomic, no system call.  The count is published after the bytes: a backend killed
// mid-copy leaves nothing counted, and a copy that is counted is in the page cache, which
// outlives every process.
//   file:  header (magic, slot size, slots), padded to a page | slot 0 | slot 1 | ...
//   slot:  count of the bytes staged (u32), padded to 64 bytes | the records, as the journal
//          file has them (journal_format.hpp)
// The file's blocks are reserved when it is made (posix_fallocate): a page of a mapped file
// that the disk has no room for would kill the backend writing it (SIGBUS).
#include "pg/journal_stage.hpp"

#include "pg/compat.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

extern "C" {
#include "access/twophase.h"
#include "common/file_perm.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/proc.h"
}

namespace zd::pg {

extern int guc_journal_size_kb;

namespace {

constexpr const char *kStageFile = "zero_downtime/journal.stage";
constexpr char kStageMagic[8] = {'Z', 'D', 'S', 'T', 'A', 'G', 'E', '1'};
constexpr off_t kFileHeader = 4096;       // (the slots start on a page)
constexpr size_t kSlotSize = 32 * 1024;   // (a multiple of the page: each slot mapped alone)
constexpr size_t kSlotHeader = 64;
constexpr uint32 kCapacity = kSlotSize - kSlotHeader;

struct FileHeader {
  char magic[8];
  uint32 slot_size;
  uint32 slots;
};

char *slot = nullptr;            // this backend's slot, mapped (nullptr: not yet, or none)
bool slot_unavailable = false;   // tried and failed: its records go to the journal file

volatile uint32 &staged() { return *(volatile uint32 *) slot; }
char *records() { return slot + kSlotHeader; }

off_t slot_offset(uint32 index) { return kFileHeader + (off_t) index * kSlotSize; }

bool read_header(int fd, FileHeader *h) {
  return pread(fd, h, sizeof *h, 0) == (ssize_t) sizeof *h &&
         memcmp(h->magic, kStageMagic, sizeof h->magic) == 0 && h->slot_size == kSlotSize;
}

// Makes the file for this server's backends (those that may run statements: ProcGlobal's
// PGPROCs but the prepared transactions' placeholders), under a name of its own first and
// linked into place whole, so that no backend maps one half made.  True when the file exists.
bool make_file() {
  char made[MAXPGPATH];
  snprintf(made, sizeof made, "%s.%d", kStageFile, MyProcPid);
  const int fd = BasicOpenFilePerm(made, O_RDWR | O_CREAT | O_TRUNC | PG_BINARY,
                                   pg_file_create_mode);
  if (fd < 0) return false;
  FileHeader h{};
  memcpy(h.magic, kStageMagic, sizeof h.magic);
  h.slot_size = kSlotSize;
  h.slots = ProcGlobal->allProcCount - max_prepared_xacts;
  bool ok = posix_fallocate(fd, 0, slot_offset(h.slots)) == 0 &&
            pwrite(fd, &h, sizeof h, 0) == (ssize_t) sizeof h;
  close(fd);
  if (ok && link(made, kStageFile) != 0 && errno != EEXIST) ok = false;  // (EEXIST: another won)
  unlink(made);
  return ok || access(kStageFile, F_OK) == 0;
}

// Moves the slot's records to the journal file.  False when they could not be written: they
// stay staged (and go at the next try, the backend's exit, or the next server start).
bool flush_slot() {
  const uint32 n = staged();
  if (n == 0) return true;
  if (n > kCapacity) {  // (not a count this code wrote: a page torn by an operating-system crash)
    staged() = 0;
    return true;
  }
  if (!journal_write_file(records(), n)) return false;
  staged() = 0;
  return true;
}

void flush_at_exit(int, Datum) {
  if (slot != nullptr) flush_slot();
}

bool map_slot() {
  if (slot_unavailable) return false;
  slot_unavailable = true;  // (until mapped: one try a backend)
  if (MyProc == nullptr) return false;
  const int index = ZD_MY_PROC_NUMBER;
  int fd = BasicOpenFile(kStageFile, O_RDWR | PG_BINARY);
  if (fd < 0 && errno == ENOENT && make_file()) fd = BasicOpenFile(kStageFile, O_RDWR | PG_BINARY);
  if (fd < 0) return false;
  FileHeader h;
  if (read_header(fd, &h) && index >= 0 && (uint32) index < h.slots) {
    void *p = mmap(nullptr, kSlotSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                   slot_offset((uint32) index));
    if (p != MAP_FAILED) slot = (char *) p;
  }
  close(fd);
  if (slot == nullptr) return false;
  slot_unavailable = false;
  before_shmem_exit(flush_at_exit, (Datum) 0);
  flush_slot();  // (what a backend before this one left: it could not write it at its exit)
  return true;
}

}  // namespace

char *journal_stage_space(size_t need, size_t *cap) {
  if (slot == nullptr && !map_slot()) return nullptr;
  if (staged() + need > kCapacity && (!flush_slot() || need > kCapacity)) return nullptr;
  *cap = kCapacity - staged();
  return records() + staged();
}

void journal_stage_publish(size_t len) {
  pg_write_barrier();  // (the bytes before their count)
  staged() = staged() + (uint32) len;
}

void journal_stage_recover() {
  const int fd = BasicOpenFile(kStageFile, O_RDONLY | PG_BINARY);
  if (fd >= 0) {
    FileHeader h;
    bool moved = true;
    if (read_header(fd, &h)) {
      char *buf = (char *) malloc(kCapacity);
      for (uint32 i = 0; buf != nullptr && i < h.slots; i++) {
        uint32 n;
        if (pread(fd, &n, sizeof n, slot_offset(i)) != (ssize_t) sizeof n) break;
        if (n == 0 || n > kCapacity) continue;
        const ssize_t got = pread(fd, buf, n, slot_offset(i) + kSlotHeader);
        if (got > 0 && !journal_write_file(buf, (size_t) got)) moved = false;
      }
      free(buf);
    }
    close(fd);
    if (moved) {
      unlink(kStageFile);
    } else {
      ereport(LOG, (errcode_for_file_access(),
                    errmsg("zero_downtime: could not move the staged DDL journal records of "
                           "\"%s\" to the journal: %m",
                           kStageFile),
                    errdetail("They stay staged, and go when a backend of the same slot next "
                              "records a statement or at the next server start.")));
    }
  }
  if (guc_journal_size_kb > 0 && access(kStageFile, F_OK) != 0) make_file();
}

StringInfo journal_staged() {
  StringInfo out = makeStringInfo();
  const int fd = OpenTransientFile(kStageFile, O_RDONLY | PG_BINARY);
  if (fd < 0) return out;
  FileHeader h;
  if (read_header(fd, &h)) {
    for (uint32 i = 0; i < h.slots; i++) {
      uint32 n;
      if (pread(fd, &n, sizeof n, slot_offset(i)) != (ssize_t) sizeof n) break;
      if (n == 0 || n > kCapacity) continue;
      enlargeStringInfo(out, (int) n);
      const ssize_t got = pread(fd, out->data + out->len, n, slot_offset(i) + kSlotHeader);
      if (got > 0) out->len += (int) got;
      out->data[out->len] = '\0';
    }
  }
  CloseTransientFile(fd);
  return out;
}

}  // namespace zd::pg
