# Integration tests of the core: the real build/bin/cebridge with the file
# plugin and the test plugins gen and flaky (tests/plugins/testplugins.cmake).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND AND TARGET cebridge)
  add_test(NAME integration_core
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/integration/test_core.py
                   --build ${CMAKE_BINARY_DIR})
  set_tests_properties(integration_core PROPERTIES LABELS integration TIMEOUT 1200)
endif()
