# Test plugins for the integration tests of the core (tests/integration/core.cmake).
# Built next to the test binaries, never installed.
ceb_add_plugin(flaky SOURCES ${CMAKE_SOURCE_DIR}/tests/plugins/flaky.c
               OUTPUT_DIR ${CMAKE_BINARY_DIR}/tests/plugins NO_INSTALL)
ceb_add_plugin(gen SOURCES ${CMAKE_SOURCE_DIR}/tests/plugins/gen.c
               OUTPUT_DIR ${CMAKE_BINARY_DIR}/tests/plugins NO_INSTALL)

# The test plugins themselves under the SDK test host.
if(TARGET cebridge::testhost)
  ceb_add_test(test_testplugins SOURCES ${CMAKE_SOURCE_DIR}/tests/plugins/test_testplugins.c
               LIBS cebridge::testhost LABELS plugin TIMEOUT 60)
  if(TARGET test_testplugins)
    add_dependencies(test_testplugins flaky gen)
    target_compile_definitions(test_testplugins PRIVATE
      CEB_TEST_FLAKY_SO="${CMAKE_BINARY_DIR}/tests/plugins/flaky.so"
      CEB_TEST_GEN_SO="${CMAKE_BINARY_DIR}/tests/plugins/gen.so")
  endif()
endif()
