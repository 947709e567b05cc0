# Fixture plugins for the test host's load checks (one source, a defect each).
set(_fx_dir ${CEB_TEST_OUTPUT_DIR}/testhost-fixtures)
set(_fx_targets)
foreach(fx good:1 badabi:2 badsize:3 wrongname:4 noentry:5)
  string(REPLACE ":" ";" _p "${fx}")
  list(GET _p 0 _n)
  list(GET _p 1 _k)
  if(CEB_BUILD_TESTS)
    add_library(fx_${_n} MODULE ${CMAKE_SOURCE_DIR}/tests/unit/testhost_fixture.c)
    set_target_properties(fx_${_n} PROPERTIES PREFIX "" C_VISIBILITY_PRESET hidden
                          LIBRARY_OUTPUT_DIRECTORY ${_fx_dir})
    target_compile_definitions(fx_${_n} PRIVATE FX_KIND=${_k})
    target_link_libraries(fx_${_n} PRIVATE cebridge::sdk)
    list(APPEND _fx_targets fx_${_n})
  endif()
endforeach()

ceb_add_test(test_testhost
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_testhost.c
  LIBS cebridge::testhost
  LABELS unit)
if(TARGET test_testhost)
  target_compile_definitions(test_testhost PRIVATE FIXTURE_DIR="${_fx_dir}")
  add_dependencies(test_testhost ${_fx_targets})
endif()
