# Interop with the official CloudEvents JS SDK (npm "cloudevents", pinned in
# tests/interop/package.json + package-lock.json, installed into
# tests/interop/node_modules by tools/install-deps or by run.sh): the SDK
# sends binary/structured/batch to the http source -> file sink, and the
# http sink posts to a Node receiver parsing with HTTP.toEvent. Skipped
# (77) without node/npm unless CI is set, then it fails.
if(CEB_BUILD_TESTS AND TARGET cebridge AND TARGET http AND TARGET file)
  add_test(NAME http_interop_js_sdk
           COMMAND ${CMAKE_SOURCE_DIR}/tests/interop/run.sh $<TARGET_FILE:cebridge>
                   ${CEB_PLUGIN_OUTPUT_DIR})
  set_tests_properties(http_interop_js_sdk PROPERTIES LABELS integration TIMEOUT 120
                       SKIP_RETURN_CODE 77)
endif()
