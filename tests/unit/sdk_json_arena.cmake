# The lazy event data parse (sdk/src/json_arena.c) against cJSON: same
# decisions, same trees, on hand-written documents and random mutations.
ceb_add_test(test_json_arena SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_json_arena.c
             LIBS cebridge::sdk PkgConfig::CJSON LABELS unit)
if(CEB_BUILD_TESTS)
  target_include_directories(test_json_arena PRIVATE ${CMAKE_SOURCE_DIR}/sdk/src)
endif()
