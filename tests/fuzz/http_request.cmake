# libFuzzer target for the HTTP source's request -> event path (libhttp-parser
# + the HTTP binding codec; see tests/fuzz/fuzz_http_request.c). clang only,
# CEB_BUILD_FUZZ=ON; CTest label fuzz, bounded runs (CEB_FUZZ_RUNS). The SDK
# sources are compiled into the target so they carry coverage instrumentation.
if(CEB_BUILD_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CEB_BUILD_FUZZ needs clang (CC=clang)")
  endif()
  find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h REQUIRED)
  find_library(HTTP_PARSER_LIBRARY http_parser REQUIRED)
  file(GLOB _hr_sdk_sources ${CMAKE_SOURCE_DIR}/sdk/src/*.c)
  add_executable(fuzz_http_request ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_http_request.c ${_hr_sdk_sources})
  target_include_directories(fuzz_http_request PRIVATE ${CMAKE_SOURCE_DIR}/sdk/include
                             ${CMAKE_SOURCE_DIR}/sdk/src ${HTTP_PARSER_INCLUDE_DIR})
  target_compile_options(fuzz_http_request PRIVATE -fsanitize=fuzzer,address,undefined
                         -fno-sanitize-recover=undefined)
  target_link_options(fuzz_http_request PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_http_request PRIVATE ${HTTP_PARSER_LIBRARY} PkgConfig::CJSON
                        PkgConfig::UV Threads::Threads m)
  set_target_properties(fuzz_http_request PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  set(_hr_corpus ${CMAKE_CURRENT_BINARY_DIR}/fuzz_http_request_corpus)
  file(MAKE_DIRECTORY ${_hr_corpus})
  file(GLOB _hr_seeds ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/http_request/*)
  file(COPY ${_hr_seeds} DESTINATION ${_hr_corpus})
  if(NOT DEFINED CEB_FUZZ_RUNS)
    set(CEB_FUZZ_RUNS 200000)
  endif()
  add_test(NAME fuzz_http_request
    COMMAND fuzz_http_request -runs=${CEB_FUZZ_RUNS} -max_len=4096 -timeout=10
            -dict=${CMAKE_SOURCE_DIR}/tests/fuzz/http.dict ${_hr_corpus})
  set_tests_properties(fuzz_http_request PROPERTIES LABELS fuzz TIMEOUT 900)
endif()
