ceb_add_test(core_log SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/core_log.c LIBS ceb_core LABELS unit)
