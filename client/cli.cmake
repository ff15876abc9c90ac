# The `tern` command-line tool. Included from client/CMakeLists.txt after the
# tern_client target is defined; the tool links the static library (and, for
# the few raw requests in cli_rpc.c, the rpc layer it brings along).
add_executable(tern
  ${CMAKE_CURRENT_LIST_DIR}/cli.c
  ${CMAKE_CURRENT_LIST_DIR}/cli_admin.c
  ${CMAKE_CURRENT_LIST_DIR}/cli_produce.c
  ${CMAKE_CURRENT_LIST_DIR}/cli_consume.c
  ${CMAKE_CURRENT_LIST_DIR}/cli_rpc.c
  ${CMAKE_CURRENT_LIST_DIR}/cli_group.c)
target_link_libraries(tern PRIVATE tern_client PkgConfig::LIBUV)
set_target_properties(tern PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
