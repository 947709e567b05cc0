# The JSON encoder's copy of attribute values recorded as needing no escapes
# (event.c ceb__event_json_attrs) and the Kafka binary decoder's one-pass
# value scan, checked against ceb_json_quote of every attribute.
ceb_add_test(test_event_json_fast SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_event_json_fast.c
             LIBS cebridge::sdk LABELS unit)
if(CEB_BUILD_TESTS)
  target_include_directories(test_event_json_fast PRIVATE ${CMAKE_SOURCE_DIR}/sdk/src)
endif()
