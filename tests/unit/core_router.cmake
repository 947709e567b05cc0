# core/router.c (+ event_cesql.c): in-test source/sink plugins, no .so.
ceb_add_test(core_router SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/core_router.c
             LIBS ceb_core LABELS unit TIMEOUT 60)
