# core/delivery.c: retries, timeouts, dead letter, backpressure (in-test plugins).
ceb_add_test(core_delivery SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/core_delivery.c
             LIBS ceb_core LABELS unit TIMEOUT 60)
