// Facts about how this library was loaded into the backend.
#pragma once

namespace zd::pg {

// True when loaded through shared_preload_libraries: the guard is then active in every backend.
extern bool loaded_at_server_start;

}  // namespace zd::pg
