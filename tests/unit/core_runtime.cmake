# core/runtime.c: apply/reload, idle, shutdown (in-test plugins).
ceb_add_test(core_runtime SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/core_runtime.c
             LIBS ceb_core LABELS unit TIMEOUT 60)
