ceb_add_test(test_codec_http
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_codec_http.c
  LIBS cebridge::sdk
  LABELS unit)
