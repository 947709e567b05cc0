# The JSON event decoder's fast path checked against its cJSON path.
ceb_add_test(test_codec_json_fast SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_codec_json_fast.c
             LIBS cebridge::sdk LABELS unit)
