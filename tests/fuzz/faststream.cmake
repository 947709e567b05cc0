# libFuzzer target for the FastStream envelope and stream-entry decoders
# (clang only, CEB_BUILD_FUZZ=ON; CTest label fuzz, bounded runs). The SDK
# sources are compiled into the target so they carry coverage instrumentation.
if(CEB_BUILD_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CEB_BUILD_FUZZ needs clang (CC=clang)")
  endif()
  file(GLOB _fs_sdk_sources ${CMAKE_SOURCE_DIR}/sdk/src/*.c)
  add_executable(fuzz_faststream ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_faststream.c ${_fs_sdk_sources})
  target_include_directories(fuzz_faststream PRIVATE ${CMAKE_SOURCE_DIR}/sdk/include
                             ${CMAKE_SOURCE_DIR}/sdk/src)
  target_compile_options(fuzz_faststream PRIVATE -fsanitize=fuzzer,address,undefined
                         -fno-sanitize-recover=undefined)
  target_link_options(fuzz_faststream PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_faststream PRIVATE PkgConfig::CJSON PkgConfig::UV Threads::Threads m)
  set_target_properties(fuzz_faststream PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  set(_fs_corpus ${CMAKE_CURRENT_BINARY_DIR}/fuzz_faststream_corpus)
  file(MAKE_DIRECTORY ${_fs_corpus})
  file(GLOB _fs_seeds ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/faststream/*)
  file(COPY ${_fs_seeds} DESTINATION ${_fs_corpus})
  if(NOT DEFINED CEB_FUZZ_RUNS)
    set(CEB_FUZZ_RUNS 200000)
  endif()
  add_test(NAME fuzz_faststream
    COMMAND fuzz_faststream -runs=${CEB_FUZZ_RUNS} -max_len=4096 -timeout=10 ${_fs_corpus})
  set_tests_properties(fuzz_faststream PROPERTIES LABELS fuzz TIMEOUT 900)
endif()
