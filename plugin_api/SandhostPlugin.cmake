# sandhost_add_plugin(name SOURCES src... [LIBRARIES lib...] [OUTPUT_DIRECTORY dir] [ALLOW_UNDEFINED])
#
# Builds a sandhost plugin: a MODULE library named NAME.so (no "lib" prefix) that exports only
# sh_plugin_entry (hidden visibility plus a version script) and is linked with -z defs, so a
# missing symbol fails the build instead of the job. ALLOW_UNDEFINED exists for test fixtures
# that must reach the loader with an unresolved symbol.
include_guard(GLOBAL)

set(SANDHOST_PLUGIN_API_DIR "${CMAKE_CURRENT_LIST_DIR}" CACHE INTERNAL "")

function(sandhost_add_plugin name)
  cmake_parse_arguments(ARG "ALLOW_UNDEFINED" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "sandhost_add_plugin(${name}): SOURCES is required")
  endif()
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY "${SANDHOST_PLUGIN_OUTPUT_DIR}")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE sandhost::plugin_api ${ARG_LIBRARIES})
  if(TARGET sandhost_settings)
    target_link_libraries(${name} PRIVATE sandhost_settings)
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  target_link_options(${name} PRIVATE "LINKER:--version-script=${SANDHOST_PLUGIN_API_DIR}/plugin.map")
  if(NOT ARG_ALLOW_UNDEFINED)
    target_link_options(${name} PRIVATE "LINKER:-z,defs")
  endif()
endfunction()
