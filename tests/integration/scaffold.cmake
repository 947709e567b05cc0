# tools/new-plugin: the templates are a working plugin named "skel", built
# and tested here in-tree (with this build's warnings and sanitizers), and
# end to end out of tree against an installed copy of this build
# (tests/integration/test_scaffold.sh).
ceb_add_plugin(skel SOURCES ${CMAKE_SOURCE_DIR}/tools/new-plugin.d/skel.c
               OUTPUT_DIR ${CMAKE_BINARY_DIR}/tests/scaffold-plugins NO_INSTALL)
ceb_add_test(test_skel
  SOURCES ${CMAKE_SOURCE_DIR}/tools/new-plugin.d/tests/test_skel.c
  LIBS cebridge::testhost
  LABELS plugin
  TIMEOUT 60)
if(TARGET test_skel)
  target_compile_definitions(test_skel PRIVATE SKEL_PLUGIN_SO="$<TARGET_FILE:skel>")
  add_dependencies(test_skel skel)
endif()

if(TARGET cebridge AND TARGET cesql AND CEB_WITH_FILE)
  add_test(NAME integration_scaffold
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/test_scaffold.sh
                   ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} "${CEB_SANITIZE}")
  set_tests_properties(integration_scaffold PROPERTIES LABELS integration TIMEOUT 120)
endif()

# tools/gen-plugin-readme itself: stale tables, rewrites, marker errors.
if(TARGET cebridge AND CEB_PYTHON3)   # CEB_PYTHON3: readme.cmake
  add_test(NAME gen_plugin_readme_cli
           COMMAND ${CMAKE_COMMAND} -E env PYTHON=${CEB_PYTHON3}
                   bash ${CMAKE_SOURCE_DIR}/tests/integration/test_gen_readme.sh
                   $<TARGET_FILE:cebridge> ${CMAKE_BINARY_DIR}/tests/scaffold-plugins
                   ${CMAKE_SOURCE_DIR})
  set_tests_properties(gen_plugin_readme_cli PROPERTIES LABELS unit TIMEOUT 60)
endif()
