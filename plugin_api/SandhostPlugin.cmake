# sandhost_add_plugin(name SOURCES src... [LIBRARIES lib...] [OUTPUT_DIRECTORY dir] [ALLOW_UNDEFINED])
#
# Builds a sandhost plugin: a MODULE library named NAME.so (no "lib" prefix) that exports only
# sh_plugin_entry (hidden visibility plus a version script) and is linked with -z defs, so a
# missing symbol fails the build instead of the job. It links the plugin SDK (sandhost::sdk, a
# static library: only what the plugin uses is linked in, and nothing of it is exported).
# ALLOW_UNDEFINED exists for test fixtures that must reach the loader with an unresolved symbol.
include_guard(GLOBAL)

# Where plugin.map is: beside this file in a source tree; an installed package sets it first.
if(NOT DEFINED SANDHOST_PLUGIN_MAP)
  set(SANDHOST_PLUGIN_MAP "${CMAKE_CURRENT_LIST_DIR}/plugin.map" CACHE INTERNAL "")
endif()

function(sandhost_add_plugin name)
  cmake_parse_arguments(ARG "ALLOW_UNDEFINED" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "sandhost_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE sandhost::plugin_api sandhost::sdk ${ARG_LIBRARIES})
  if(TARGET sandhost_settings)
    target_link_libraries(${name} PRIVATE sandhost_settings)
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  elseif(DEFINED SANDHOST_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${SANDHOST_PLUGIN_OUTPUT_DIR}")
  endif()
  target_link_options(${name} PRIVATE "LINKER:--version-script=${SANDHOST_PLUGIN_MAP}")
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS "${SANDHOST_PLUGIN_MAP}")
  if(NOT ARG_ALLOW_UNDEFINED AND NOT SANDHOST_SHARED_LIBS_ALLOW_UNDEFINED)
    target_link_options(${name} PRIVATE "LINKER:-z,defs")
  endif()
endfunction()
