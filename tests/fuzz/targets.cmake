# The fuzz targets and the lib/ sources each one is built from, shared by
# the libFuzzer build (tests/fuzz/CMakeLists.txt, -DWB_FUZZ=ON, clang) and
# the corpus replay tests of the normal build (tests/fuzz/replay.cmake), so
# both run the same code.  Harness: tests/fuzz/fuzz_<name>.c; seed corpus:
# tests/fuzz/corpus/<name>/.
set(WB_FUZZ_TARGETS pgoutput config pgarray spool expr copyrow)

set(WB_FUZZ_SRCS_pgoutput decode/pgoutput.c source/copydata.c decode/relcache.c
                          common/arena.c common/error.c)
set(WB_FUZZ_SRCS_config
    config/config.c config/yaml.c config/names.c config/section.c
    config/settings.c config/mapping.c config/conflict.c config/expr_parse.c
    config/filter_parse.c config/expr_refs.c config/reload.c common/arena.c
    common/error.c map/expr.c map/cast.c map/router.c map/change.c
    map/builtin.c map/loader.c common/log.c common/bintext.c)
set(WB_FUZZ_LIBS_config PkgConfig::YAML ${CMAKE_DL_LIBS})
set(WB_FUZZ_SRCS_pgarray common/pgarray.c common/strbuf.c common/error.c)
# fuzz_spool.c includes lib/source/spool.c itself, to write raw bytes into a
# transaction's file.
set(WB_FUZZ_SRCS_spool common/error.c)
set(WB_FUZZ_SRCS_copyrow decode/copyrow.c common/copytext.c common/strbuf.c
                         common/arena.c common/error.c)
set(WB_FUZZ_SRCS_expr map/expr.c map/cast.c config/filter_parse.c config/expr_refs.c
                      common/arena.c common/error.c)

# wb_fuzz_sources(<out-var> <name>): the harness and its lib/ sources.
function(wb_fuzz_sources out name)
  set(srcs ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_${name}.c)
  foreach(s ${WB_FUZZ_SRCS_${name}})
    list(APPEND srcs ${CMAKE_SOURCE_DIR}/lib/${s})
  endforeach()
  set(${out} ${srcs} PARENT_SCOPE)
endfunction()
