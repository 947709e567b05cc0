# libcebridge-sdk unit tests (events, codecs, options, buffers) and the
# boundary checks: every public header compiles alone; plugins never include core/.
set(_sdk_unit ${CMAKE_SOURCE_DIR}/tests/unit)
ceb_add_test(test_buf SOURCES ${_sdk_unit}/test_buf.c
             LIBS cebridge::sdk PkgConfig::UV LABELS unit)
ceb_add_test(test_event SOURCES ${_sdk_unit}/test_event.c
             LIBS cebridge::sdk PkgConfig::CJSON Threads::Threads LABELS unit)
ceb_add_test(test_codec_json SOURCES ${_sdk_unit}/test_codec_json.c
             LIBS cebridge::sdk PkgConfig::CJSON LABELS unit)
ceb_add_test(test_options SOURCES ${_sdk_unit}/test_options.c
             LIBS cebridge::sdk PkgConfig::CJSON LABELS unit)
if(CEB_BUILD_TESTS)
  target_include_directories(test_options PRIVATE ${CMAKE_SOURCE_DIR}/sdk/src)
  target_include_directories(test_event PRIVATE ${CMAKE_SOURCE_DIR}/sdk/src)
  target_include_directories(test_codec_json PRIVATE ${CMAKE_SOURCE_DIR}/sdk/src)
  # Each public header on its own, strict C11 (STYLE §9.1).
  add_test(NAME test_headers
           COMMAND sh ${_sdk_unit}/sdk/check_headers.sh ${CMAKE_C_COMPILER}
                   ${CMAKE_SOURCE_DIR}/sdk/include "${UV_INCLUDE_DIRS}")
  set_tests_properties(test_headers PROPERTIES LABELS unit TIMEOUT 120)
  # The architecture line: nothing under plugins/ includes a core/ header (DESIGN §1).
  add_test(NAME test_plugins_no_core_includes
           COMMAND sh ${_sdk_unit}/sdk/check_plugin_includes.sh ${CMAKE_SOURCE_DIR}/plugins)
  set_tests_properties(test_plugins_no_core_includes PROPERTIES LABELS unit TIMEOUT 60)
endif()
