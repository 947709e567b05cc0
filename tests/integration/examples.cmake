# Every example drop-in we ship must pass `cebridge --check` against the
# plugins of this build (STYLE §9.10): a README example that does not load
# is a bug.
file(GLOB _ceb_examples CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/plugins/*/examples/*.json
     ${CMAKE_SOURCE_DIR}/conf.d/examples/*.json
     ${CMAKE_SOURCE_DIR}/conf.d/*.json)
foreach(ex IN LISTS _ceb_examples)
  file(RELATIVE_PATH _rel ${CMAKE_SOURCE_DIR} ${ex})
  # Skip an example that uses a plugin this build leaves out (CEB_WITH_<P>=OFF).
  file(STRINGS ${ex} _uses REGEX "\"plugin\"[ \t]*:[ \t]*\"[a-z0-9_]+\"")
  set(_skip OFF)
  foreach(u IN LISTS _uses)
    string(REGEX MATCHALL "\"plugin\"[ \t]*:[ \t]*\"[a-z0-9_]+\"" _all "${u}")
    foreach(a IN LISTS _all)
      string(REGEX REPLACE ".*\"([a-z0-9_]+)\"$" "\\1" _p "${a}")
      if(NOT TARGET ${_p})
        set(_skip ON)
      endif()
    endforeach()
  endforeach()
  if(_skip)
    continue()
  endif()
  string(REGEX REPLACE "[^A-Za-z0-9]+" "_" _name "check_${_rel}")
  add_test(NAME ${_name}
           COMMAND $<TARGET_FILE:cebridge> --check -c ${ex}
                   --plugin-dir ${CEB_PLUGIN_OUTPUT_DIR})
  set_tests_properties(${_name} PROPERTIES LABELS unit TIMEOUT 30)
  # Secrets an example takes from the environment get a stand-in value, as
  # the user's deployment would provide them.
  file(STRINGS ${ex} _envrefs REGEX "\\$\\{env:[A-Za-z_][A-Za-z0-9_]*\\}")
  set(_env "")
  foreach(line IN LISTS _envrefs)
    string(REGEX MATCHALL "\\$\\{env:[A-Za-z_][A-Za-z0-9_]*\\}" _refs "${line}")
    foreach(r IN LISTS _refs)
      string(REGEX REPLACE "^\\$\\{env:(.*)\\}$" "\\1" _var "${r}")
      list(APPEND _env "${_var}=example-secret-value")
    endforeach()
  endforeach()
  if(_env)
    list(REMOVE_DUPLICATES _env)
    set_tests_properties(${_name} PROPERTIES ENVIRONMENT "${_env}")
  endif()
endforeach()
