# End-to-end Redis stream -> Kafka (issue 6): build/bin/cebridge with redis.so
# and kafka.so against redis-server and build/bin/kafka-mock; kcat reads the
# topic. Exit 77 = skipped (kcat or redis-server missing outside CI).
find_package(Python3 COMPONENTS Interpreter)
find_program(CEB_REDIS_SERVER redis-server)
if(Python3_Interpreter_FOUND AND CEB_REDIS_SERVER AND TARGET cebridge AND TARGET redis
   AND TARGET kafka AND TARGET kafka-mock)
  add_test(NAME integration_redis_kafka
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/integration/test_redis_kafka.py
                   --build ${CMAKE_BINARY_DIR})
  set_tests_properties(integration_redis_kafka PROPERTIES
    LABELS integration TIMEOUT 300 SKIP_RETURN_CODE 77)
  if(CEB_SANITIZE)
    set_tests_properties(integration_redis_kafka PROPERTIES ENVIRONMENT CEB_SANITIZED=1)
  endif()
endif()
