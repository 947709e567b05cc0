ceb_add_test(core_metrics SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/core_metrics.c LIBS ceb_core LABELS unit)
