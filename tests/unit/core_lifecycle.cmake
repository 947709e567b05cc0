# Lifecycle and at-least-once edge cases across runtime/delivery/loop
# (reload with work in flight, limits, dead letters, thread races).
ceb_add_test(core_lifecycle SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/core_lifecycle.c
             LIBS ceb_core LABELS unit TIMEOUT 60)
