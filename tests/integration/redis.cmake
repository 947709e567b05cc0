# Integration tests of the redis plugin (issue 5): the real build/bin/cebridge
# with redis.so and file.so against redis-server on an ephemeral port.
find_package(Python3 COMPONENTS Interpreter)
find_program(CEB_REDIS_SERVER redis-server)
if(Python3_Interpreter_FOUND AND CEB_REDIS_SERVER AND TARGET cebridge AND TARGET redis)
  add_test(NAME integration_redis
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/integration/test_redis.py
                   --build ${CMAKE_BINARY_DIR})
  set_tests_properties(integration_redis PROPERTIES LABELS integration TIMEOUT 120)
endif()
