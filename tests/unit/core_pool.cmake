# core/runtime.c object pool: slabs, reuse, and the delivery paths over it.
ceb_add_test(core_pool SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/core_pool.c
             LIBS ceb_core LABELS unit TIMEOUT 60)
