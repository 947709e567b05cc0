ceb_add_test(test_codec_faststream
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_codec_faststream.c
  LIBS cebridge::sdk
  LABELS unit)
