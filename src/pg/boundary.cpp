// The two crossings declared in boundary.hpp.
#include "pg/boundary.hpp"

#include "core/zd_error.hpp"

#include <cstdio>
#include <cstring>
#include <new>

namespace zd::pg {

const char *PgException::what() const noexcept {
  return (edata_ != nullptr && edata_->message != nullptr) ? edata_->message
                                                           : "PostgreSQL error";
}

namespace {

void copy_text(char *dst, size_t size, const char *src) noexcept {
  if (src == nullptr) src = "";
  std::snprintf(dst, size, "%s", src);
}

int sqlstate_to_code(const char *s) noexcept {
  if (s == nullptr || std::strlen(s) != 5) return ERRCODE_INTERNAL_ERROR;
  return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

}  // namespace

void capture_current_exception(CaughtError *out, const char *where) noexcept {
  out->pg_error = nullptr;
  out->detail[0] = '\0';
  out->hint[0] = '\0';
  try {
    throw;
  } catch (const PgException &e) {
    out->pg_error = e.data();
  } catch (const ZdError &e) {
    out->sqlerrcode = sqlstate_to_code(e.sqlstate().c_str());
    copy_text(out->message, sizeof out->message, e.what());
    copy_text(out->detail, sizeof out->detail, e.detail().c_str());
    copy_text(out->hint, sizeof out->hint, e.hint().c_str());
  } catch (const std::bad_alloc &) {
    out->sqlerrcode = ERRCODE_OUT_OF_MEMORY;
    std::snprintf(out->message, sizeof out->message, "zero_downtime: out of memory in %s",
                  where);
  } catch (const std::exception &e) {
    out->sqlerrcode = ERRCODE_INTERNAL_ERROR;
    std::snprintf(out->message, sizeof out->message, "zero_downtime: internal error in %s: %s",
                  where, e.what());
    copy_text(out->hint, sizeof out->hint,
              "This is a bug in zero_downtime; the statement was not run.  Please report it.");
  } catch (...) {
    out->sqlerrcode = ERRCODE_INTERNAL_ERROR;
    std::snprintf(out->message, sizeof out->message,
                  "zero_downtime: internal error in %s: unknown C++ exception", where);
    copy_text(out->hint, sizeof out->hint,
              "This is a bug in zero_downtime; the statement was not run.  Please report it.");
  }
}

void raise_caught(const CaughtError *err) {
  if (err->pg_error != nullptr) ReThrowError(err->pg_error);
  ereport(ERROR, (errcode(err->sqlerrcode), errmsg_internal("%s", err->message),
                  err->detail[0] ? errdetail_internal("%s", err->detail) : 0,
                  err->hint[0] ? errhint("%s", err->hint) : 0));
  pg_unreachable();
}

ErrorData *take_pg_error(MemoryContext context) {
  MemoryContextSwitchTo(context);
  ErrorData *edata = CopyErrorData();
  FlushErrorState();
  return edata;
}

}  // namespace zd::pg
