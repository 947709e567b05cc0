# UTF-8 well-formedness (sdk/src/utf8.c): hand cases and random inputs
# against a byte-at-a-time reference, including the ASCII word loop's edges.
ceb_add_test(test_utf8 SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_utf8.c
             LIBS cebridge::sdk LABELS unit)
if(CEB_BUILD_TESTS)
  target_include_directories(test_utf8 PRIVATE ${CMAKE_SOURCE_DIR}/sdk/src)
endif()
