# ceb_rng / ceb_clock / ceb_event_wrap_from (event.h) and the cached JSON parse of set_data.
ceb_add_test(test_event_rng SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_event_rng.c
             LIBS cebridge::sdk LABELS unit)
