# core/host.c: the host table (in-test plugins).
ceb_add_test(core_host SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/core_host.c
             LIBS ceb_core LABELS unit TIMEOUT 60)
