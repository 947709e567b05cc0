# Fixture plugins for the loader and --describe tests (tests/unit/core_loader.c,
# tests/unit/core_describe.c): one valid plugin and one per refusal the
# loader must name. Built next to each other in build/tests/plugins, never
# installed.
set(CEB_LOADER_FIXTURES good bad_abi no_entry bad_size wrong_name no_deliver bad_default no_roles)
foreach(f IN LISTS CEB_LOADER_FIXTURES)
  ceb_add_plugin(${f} SOURCES ${CMAKE_SOURCE_DIR}/tests/plugins/${f}.c
                 OUTPUT_DIR ${CMAKE_BINARY_DIR}/tests/plugins NO_INSTALL)
endforeach()
