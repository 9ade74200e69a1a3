# Corpus replay tests of the normal build (included by tests/CMakeLists.txt
# when WB_TESTS=ON): each fuzz harness is linked with a plain main
# (replay_main.c) instead of libFuzzer and run once over every file of its
# committed corpus.  Built with the project's compiler and flags (gcc; with
# -DWB_SANITIZE=ON under ASan/UBSan), so no clang is needed and every
# `ctest` run replays every corpus, old crashers included.
include(${CMAKE_SOURCE_DIR}/tests/fuzz/targets.cmake)

foreach(name ${WB_FUZZ_TARGETS})
  wb_fuzz_sources(srcs ${name})
  add_executable(replay_${name} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c
                                ${srcs})
  target_include_directories(replay_${name} PRIVATE
                             ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/lib)
  target_link_libraries(replay_${name} PRIVATE ${WB_FUZZ_LIBS_${name}})
  set_target_properties(replay_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                                                  ${CMAKE_BINARY_DIR}/fuzz)
  add_test(NAME fuzz.replay.${name}
           COMMAND replay_${name} ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name})
  set_tests_properties(fuzz.replay.${name} PROPERTIES
                       LABELS fuzz-replay TIMEOUT 300)
endforeach()
