ceb_add_test(core_describe SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/core_describe.c
             LIBS ceb_core LABELS unit)
if(TARGET core_describe)
  target_compile_definitions(core_describe PRIVATE CEB_FIXTURE_DIR="${CMAKE_BINARY_DIR}/tests/plugins")
  add_dependencies(core_describe ${CEB_LOADER_FIXTURES})
  # The drop-in round trip needs core/config.c (written in parallel).
  if(EXISTS ${CMAKE_SOURCE_DIR}/core/config.c)
    target_compile_definitions(core_describe PRIVATE CEB_HAVE_CONFIG=1)
  endif()
endif()
