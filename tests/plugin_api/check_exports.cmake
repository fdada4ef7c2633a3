# Fails unless the shared library PLUGIN defines exactly one dynamic symbol, sh_plugin_entry.
# Usage: cmake -DNM=<nm> -DPLUGIN=<library> -P check_exports.cmake
if(NOT NM OR NOT PLUGIN)
  message(FATAL_ERROR "usage: cmake -DNM=<nm> -DPLUGIN=<library> -P check_exports.cmake")
endif()
execute_process(
  COMMAND "${NM}" -D --defined-only "${PLUGIN}"
  RESULT_VARIABLE status
  OUTPUT_VARIABLE listing
  ERROR_VARIABLE errors)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${NM} -D --defined-only ${PLUGIN} failed (${status}): ${errors}")
endif()

# Each line reads "<address> <type> <name>"; absolute symbols may have no address.
set(names "")
string(REPLACE "\n" ";" lines "${listing}")
foreach(line IN LISTS lines)
  if(line MATCHES "^[0-9a-fA-F]* *[A-Za-z] +(.+)$")
    list(APPEND names "${CMAKE_MATCH_1}")
  elseif(NOT line STREQUAL "")
    message(FATAL_ERROR "${PLUGIN}: cannot read nm line '${line}'")
  endif()
endforeach()

if(NOT names STREQUAL "sh_plugin_entry")
  list(JOIN names ", " shown)
  message(FATAL_ERROR "${PLUGIN} must export exactly sh_plugin_entry; it exports: ${shown}")
endif()
message(STATUS "${PLUGIN} exports sh_plugin_entry only")
