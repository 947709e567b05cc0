# core/loop.c: cross-thread queue, timer queue, signal handles.
ceb_add_test(core_loop SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/core_loop.c
             LIBS ceb_core LABELS unit TIMEOUT 60)
