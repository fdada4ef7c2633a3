# Fails when one of BINARIES carries BUILD_DIR in its loaded data (strings, RPATH/RUNPATH): a
# binary copied out of the build tree, or installed, must not look for anything there.
foreach(binary IN LISTS BINARIES)
  foreach(section .rodata .dynstr)
    execute_process(COMMAND ${READELF} -p ${section} ${binary} OUTPUT_VARIABLE text ERROR_QUIET)
    string(FIND "${text}" "${BUILD_DIR}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "${binary} holds the build directory ${BUILD_DIR} in ${section}")
    endif()
  endforeach()
  message(STATUS "${binary}: no build path")
endforeach()
