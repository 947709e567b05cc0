ceb_add_test(test_codec_kafka
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_codec_kafka.c
  LIBS cebridge::sdk
  LABELS unit)
