# core/config.c: drop-ins, JSON with comments and positions, validation.
# The fixture plugins are static descriptors inside the test (no .so).
ceb_add_test(test_config
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_config.c
  LIBS ceb_core
  LABELS unit)
