# Integration tests of the kafka plugin: build/bin/cebridge against
# build/bin/kafka-mock, with kcat as an independent client (Debian kcat).
# Exit 77 = skipped (kcat missing outside CI; with CI set it fails instead).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND AND TARGET cebridge AND TARGET kafka AND TARGET kafka-mock)
  add_test(NAME integration_kafka
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/integration/test_kafka.py
                   --build ${CMAKE_BINARY_DIR})
  set_tests_properties(integration_kafka PROPERTIES
    LABELS integration TIMEOUT 900 SKIP_RETURN_CODE 77)
  if(CEB_SANITIZE)
    set_tests_properties(integration_kafka PROPERTIES ENVIRONMENT CEB_SANITIZED=1)
  endif()
endif()
