ceb_add_test(test_template
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_template.c
  LIBS cebridge::sdk
  LABELS unit)
