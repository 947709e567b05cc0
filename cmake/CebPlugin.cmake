# ceb_add_plugin(<name> SOURCES <files...> [LIBS <libs...>] [OUTPUT_DIR <dir>] [NO_INSTALL])
#
# Builds <name>.so (no "lib" prefix) with hidden visibility and
# -Wl,--no-undefined so a plugin can reach nothing but libcebridge-sdk and its
# own libraries; the only exported symbol is ceb_plugin_entry().
function(ceb_add_plugin name)
  cmake_parse_arguments(P "NO_INSTALL" "OUTPUT_DIR" "SOURCES;LIBS" ${ARGN})
  if(NOT P_OUTPUT_DIR)
    set(P_OUTPUT_DIR ${CEB_PLUGIN_OUTPUT_DIR})
  endif()
  add_library(${name} MODULE ${P_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${name}
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR})
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  target_link_libraries(${name} PRIVATE cebridge::sdk ${P_LIBS})
  if(NOT P_NO_INSTALL)
    install(TARGETS ${name} LIBRARY DESTINATION ${CEB_INSTALL_PLUGINDIR})
  endif()
endfunction()
