# ceb_add_test(<name> SOURCES <files...> [LIBS <libs...>] [LABELS <labels...>]
#              [TIMEOUT <s>] [ARGS <args...>] [ENV <VAR=value...>])
#
# One executable per test file (process isolation, a timeout per test), built
# to build/tests/<name> and registered with CTest.  Labels: unit, plugin,
# integration, conformance, fuzz.
function(ceb_add_test name)
  if(NOT CEB_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;ARGS;ENV" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CEB_TEST_OUTPUT_DIR})
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
  if(T_ENV)
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "${T_ENV}")
  endif()
endfunction()
