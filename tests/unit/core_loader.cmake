# Loads the fixture plugins of tests/plugins/fixtures.cmake (copied by the
# test into a private directory with safe permissions).
ceb_add_test(core_loader SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/core_loader.c
             LIBS ceb_core LABELS unit)
if(TARGET core_loader)
  target_compile_definitions(core_loader PRIVATE CEB_FIXTURE_DIR="${CMAKE_BINARY_DIR}/tests/plugins")
  add_dependencies(core_loader ${CEB_LOADER_FIXTURES})
endif()
