# PGXS build of zero_downtime.  `make && make install` with pg_config on PATH.
# Every C++ file under src/ is part of the module; tests are discovered from their folders
# so that no test file can be forgotten by a schedule.

EXTENSION  = zero_downtime
MODULE_big = zero_downtime

SRCS := $(sort $(shell find src -name '*.cpp'))
OBJS  = $(SRCS:.cpp=.o)

DATA = $(sort $(wildcard sql/zero_downtime--*.sql))

# pg_regress: every sql/<name>.sql except the install/upgrade scripts, in name order.
REGRESS = $(sort $(basename $(notdir $(filter-out sql/zero_downtime--%,$(wildcard sql/*.sql)))))
REGRESS_OPTS = --temp-config=test/regress.conf

ISOLATION = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --temp-config=test/regress.conf

PG_CPPFLAGS = -I$(srcdir)/src -std=c++17 -Wall -Wextra -Wno-unused-parameter \
              -Wno-missing-field-initializers -Wno-cast-function-type -Wno-register
# -Bsymbolic: the library's calls to its own functions and reads of its own globals bind inside
# it (direct calls, no PLT or GOT indirection): the hooks run for every statement of the
# cluster, and that indirection was a measurable part of their cost (bench/instructions_bench.sh).
SHLIB_LINK  = -lstdc++ -Wl,-Bsymbolic

# Debian's PGXS is configured --with-llvm and would emit LLVM bitcode for JIT inlining with
# clang-14.  Inlining an extension's C++ into JIT-compiled expressions buys nothing here (the
# guard runs in utility statements, which are never JIT-compiled), and it would make clang a
# build dependency.  Switch it off deliberately.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS compiles .cpp with CXXFLAGS that carry C-only warnings in some builds; keep them quiet.
override CXXFLAGS := $(filter-out -Wmissing-prototypes -Wdeclaration-after-statement,$(CXXFLAGS))

# The objects are built for one server's headers: building for another (PG_CONFIG of another
# version) rebuilds them all, instead of linking objects compiled for the last one.
zd_built_for := $(shell $(PG_CONFIG) --version) $(shell $(PG_CONFIG) --includedir-server)
ifneq ($(zd_built_for),$(shell cat .built-for 2>/dev/null))
$(shell echo '$(zd_built_for)' > .built-for)
endif
$(OBJS): .built-for

# PGXS tracks no header dependencies for C++: have g++ write them, so that a changed header
# rebuilds every object that includes it.
override CXXFLAGS += -MMD -MP
-include $(OBJS:.o=.d)
EXTRA_CLEAN = $(OBJS:.o=.d) .built-for

print-%:
	@echo '$($*)'
