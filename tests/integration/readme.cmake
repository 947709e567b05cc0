# plugin_readme_drift (STYLE §9.9): the options tables between
# <!-- options:begin --> and <!-- options:end --> in plugins/<name>/README.md
# must be what `cebridge --describe <name> --format markdown` prints.
# Covers every plugin that is built and whose README has a marker; fix a
# failure with `tools/gen-plugin-readme --build <build dir> <name>`.
find_package(Python3 COMPONENTS Interpreter)
# The interpreter itself, not a pyenv shim (seconds per start on this machine).
set(CEB_PYTHON3 "")
if(Python3_Interpreter_FOUND)
  execute_process(COMMAND ${Python3_EXECUTABLE} -c "import sys; print(sys.executable)"
                  OUTPUT_VARIABLE CEB_PYTHON3 OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT CEB_PYTHON3)
    set(CEB_PYTHON3 ${Python3_EXECUTABLE})
  endif()
endif()
# CONFIGURE_DEPENDS: a README added later is noticed by the next build.
file(GLOB _ceb_readmes CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/plugins/*/README.md)
set(_ceb_readme_plugins "")
foreach(p IN LISTS CEB_PLUGINS)
  set(_readme ${CMAKE_SOURCE_DIR}/plugins/${p}/README.md)
  if(TARGET ${p} AND EXISTS ${_readme})
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_readme})
    file(STRINGS ${_readme} _marker REGEX "^<!-- options:begin( source| sink)? -->$")
    if(_marker)
      list(APPEND _ceb_readme_plugins ${p})
    endif()
  endif()
endforeach()
if(CEB_PYTHON3 AND TARGET cebridge AND _ceb_readme_plugins)
  add_test(NAME plugin_readme_drift
           COMMAND ${CEB_PYTHON3} ${CMAKE_SOURCE_DIR}/tools/gen-plugin-readme --check
                   --build ${CMAKE_BINARY_DIR} ${_ceb_readme_plugins})
  set_tests_properties(plugin_readme_drift PROPERTIES LABELS unit TIMEOUT 60)
endif()
