# core/config.c: drop-ins, JSON with comments and positions, validation.
# The fixture plugins are static descriptors inside the test (no .so).
ceb_add_test(test_config
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_config.c
  LIBS ceb_core
  LABELS unit)
if(TARGET test_config)
  # test_shipped_conf_d loads the repository's default conf.d/
  target_compile_definitions(test_config PRIVATE CEB_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endif()
