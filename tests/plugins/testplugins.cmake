# Test plugins for the integration tests of the core (tests/integration/core.cmake).
# Built next to the test binaries, never installed.
ceb_add_plugin(flaky SOURCES ${CMAKE_SOURCE_DIR}/tests/plugins/flaky.c
               OUTPUT_DIR ${CMAKE_BINARY_DIR}/tests/plugins NO_INSTALL)
ceb_add_plugin(gen SOURCES ${CMAKE_SOURCE_DIR}/tests/plugins/gen.c
               OUTPUT_DIR ${CMAKE_BINARY_DIR}/tests/plugins NO_INSTALL)
