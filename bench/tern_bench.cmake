# tern-bench: the OpenMessaging-style benchmark driver (bench/tern_bench*.c),
# built into ${CMAKE_BINARY_DIR}/bin on libtern. Included from
# bench/CMakeLists.txt; its files are named tern_bench*.c so the bench_*.c glob
# there does not pick them up. The histogram is a small library of its own so
# its unit test (tests/unit/bench) links it alone.
add_library(tern_bench_hist STATIC ${CMAKE_CURRENT_LIST_DIR}/tern_bench_hist.c)
target_link_libraries(tern_bench_hist PUBLIC m)

# What tern-bench and the peer drivers (bench/peers/) share.
add_library(tern_bench_common STATIC ${CMAKE_CURRENT_LIST_DIR}/tern_bench_common.c
            ${CMAKE_CURRENT_LIST_DIR}/tern_bench_workload.c)
target_link_libraries(tern_bench_common PUBLIC tern_bench_hist tern_core PkgConfig::JANSSON m)

add_executable(tern-bench
  ${CMAKE_CURRENT_LIST_DIR}/tern_bench.c
  ${CMAKE_CURRENT_LIST_DIR}/tern_bench_report.c)
target_link_libraries(tern-bench PRIVATE tern_bench_common tern_bench_hist tern_client tern_core
                      PkgConfig::JANSSON PkgConfig::LIBUV m)
set_target_properties(tern-bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)

# Peer drivers (NATS JetStream, Redis Streams): only where their client libraries are.
include(${CMAKE_CURRENT_LIST_DIR}/peers/peers.cmake)
