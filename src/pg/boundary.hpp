// The C++/PostgreSQL boundary: the only place where the two error models meet.
//
// PostgreSQL reports errors with ereport(ERROR), a longjmp that skips C++ destructors.
// C++ reports errors with exceptions, which must never unwind through PostgreSQL's C frames.
// So every crossing goes through one of two functions:
//
//   run_cpp(where, fn)  PostgreSQL -> C++.  Used by every entry point PostgreSQL calls (the
//                       hook, SQL-callable functions).  A C++ exception is copied into static
//                       buffers inside the catch block, the try scope is left (every destructor
//                       has run), and only then is ereport(ERROR) raised, with the exception's
//                       SQLSTATE, message, detail and hint.  std::bad_alloc -> out_of_memory.
//
//   call_pg(fn)         C++ -> PostgreSQL.  For the rare C++ code that must call PostgreSQL
//                       while objects with destructors are alive.  A PostgreSQL ERROR raised by
//                       fn is caught with PG_TRY, copied (CopyErrorData) and thrown as
//                       PgException once the PG_TRY scope is closed; run_cpp re-raises it
//                       unchanged (ReThrowError), so the original SQLSTATE survives.
//
// Rules for code on the PostgreSQL side (src/pg): frames that call PostgreSQL directly hold no
// object with a non-trivial destructor (palloc memory and plain structs only).  Never throw
// inside PG_TRY; never let a PgException be swallowed without re-throwing it or rolling back a
// subtransaction, because PostgreSQL's state is only consistent again after that.
#pragma once

#include "pg/pg_headers.hpp"

#include <exception>
#include <type_traits>

namespace zd::pg {

// A PostgreSQL error in flight through C++ frames.  Holds palloc'd ErrorData.
class PgException : public std::exception {
 public:
  explicit PgException(ErrorData *edata) : edata_(edata) {}
  const char *what() const noexcept override;
  ErrorData *data() const { return edata_; }

 private:
  ErrorData *edata_;
};

// What run_cpp keeps of a caught exception: fixed buffers, no allocation in the catch block.
struct CaughtError {
  ErrorData *pg_error;  // set when the exception was a PgException
  int sqlerrcode;
  char message[1024];
  char detail[4096];
  char hint[8192];
};

// Fills *out from the exception currently being handled.  Only inside a catch block.
void capture_current_exception(CaughtError *out, const char *where) noexcept;

// Raises *err as a PostgreSQL ERROR.  Call with no C++ object alive in the calling frames.
[[noreturn]] void raise_caught(const CaughtError *err);

template <typename Fn>
auto run_cpp(const char *where, Fn &&fn) -> decltype(fn()) {
  using Result = decltype(fn());
  static_assert(std::is_void_v<Result> || std::is_trivially_destructible_v<Result>,
                "run_cpp returns plain data only: nothing may need a destructor after the try");
  static CaughtError err;  // static: no destructor, no stack frame to outlive
  bool failed = false;
  if constexpr (std::is_void_v<Result>) {
    try {
      fn();
    } catch (...) {
      capture_current_exception(&err, where);
      failed = true;
    }
    if (failed) raise_caught(&err);
  } else {
    Result result{};
    try {
      result = fn();
    } catch (...) {
      capture_current_exception(&err, where);
      failed = true;
    }
    if (failed) raise_caught(&err);
    return result;
  }
}

// Stores the current PostgreSQL error (inside PG_CATCH) and returns a copy in `context`.
ErrorData *take_pg_error(MemoryContext context);

template <typename Fn>
auto call_pg(Fn &&fn) -> decltype(fn()) {
  using Result = decltype(fn());
  static_assert(std::is_void_v<Result> || std::is_scalar_v<Result>,
                "call_pg returns a scalar or pointer: the value must survive a longjmp");
  MemoryContext volatile saved = CurrentMemoryContext;
  ErrorData *volatile edata = nullptr;
  if constexpr (std::is_void_v<Result>) {
    PG_TRY();
    { fn(); }
    PG_CATCH();
    { edata = take_pg_error(saved); }
    PG_END_TRY();
    if (edata != nullptr) throw PgException(edata);
  } else {
    Result volatile result{};
    PG_TRY();
    { result = fn(); }
    PG_CATCH();
    { edata = take_pg_error(saved); }
    PG_END_TRY();
    if (edata != nullptr) throw PgException(edata);
    return result;
  }
}

}  // namespace zd::pg

// Defines an SQL-callable function whose body is C++ run through run_cpp.  The body has the
// usual PG_FUNCTION_ARGS (fcinfo) and returns a Datum.
#define ZD_SQL_FUNCTION(name)                                                         \
  static Datum name##_body(FunctionCallInfo fcinfo);                                \
  extern "C" {                                                                      \
  PG_FUNCTION_INFO_V1(name);                                                        \
  Datum name(PG_FUNCTION_ARGS) {                                                    \
    return zd::pg::run_cpp(#name, [fcinfo]() { return name##_body(fcinfo); });      \
  }                                                                                 \
  }                                                                                 \
  static Datum name##_body(FunctionCallInfo fcinfo)
