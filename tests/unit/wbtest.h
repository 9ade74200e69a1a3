/*
 * wbtest.h - the smallest test harness that still prints both values.
 *
 * Each tests/unit/test_<module>.c defines static test functions and a main()
 * that runs them with WB_RUN(fn) and returns wbtest_summary().  A failed
 * check prints file:line, the expression and both values, marks the current
 * test failed and carries on with the next check (so one run shows all
 * mismatches); the exit code is non-zero when any check failed.
 */
#ifndef WBTEST_H
#define WBTEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int wbtest_failed_checks;
static int wbtest_cur_failed;
static int wbtest_passed, wbtest_failed;
static const char *wbtest_cur;

#define WB_RUN(fn)                                                             \
    do {                                                                       \
        wbtest_cur = #fn;                                                      \
        wbtest_cur_failed = 0;                                                 \
        fn();                                                                  \
        if (wbtest_cur_failed) {                                               \
            wbtest_failed++;                                                   \
            printf("not ok - %s\n", #fn);                                      \
        } else {                                                               \
            wbtest_passed++;                                                   \
            printf("ok - %s\n", #fn);                                          \
        }                                                                      \
    } while (0)

#define WBTEST_FAIL_(...)                                                      \
    do {                                                                       \
        wbtest_failed_checks++;                                                \
        wbtest_cur_failed = 1;                                                 \
        printf("  %s:%d: in %s: ", __FILE__, __LINE__, wbtest_cur);            \
        printf(__VA_ARGS__);                                                   \
        printf("\n");                                                          \
    } while (0)

#define WB_CHECK(cond)                                                         \
    do {                                                                       \
        if (!(cond))                                                           \
            WBTEST_FAIL_("check failed: %s", #cond);                           \
    } while (0)

#define WB_CHECK_INT_EQ(a, b)                                                  \
    do {                                                                       \
        long long wbt_a_ = (long long)(a), wbt_b_ = (long long)(b);            \
        if (wbt_a_ != wbt_b_)                                                  \
            WBTEST_FAIL_("%s == %s: got %lld, expected %lld", #a, #b, wbt_a_,  \
                         wbt_b_);                                              \
    } while (0)

#define WB_CHECK_U64_EQ(a, b)                                                  \
    do {                                                                       \
        uint64_t wbt_a_ = (uint64_t)(a), wbt_b_ = (uint64_t)(b);               \
        if (wbt_a_ != wbt_b_)                                                  \
            WBTEST_FAIL_("%s == %s: got %" PRIu64 " (0x%" PRIX64               \
                         "), expected %" PRIu64 " (0x%" PRIX64 ")",            \
                         #a, #b, wbt_a_, wbt_a_, wbt_b_, wbt_b_);              \
    } while (0)

#define WB_CHECK_STR_EQ(a, b)                                                  \
    do {                                                                       \
        const char *wbt_a_ = (a), *wbt_b_ = (b);                               \
        if (wbt_a_ == NULL || wbt_b_ == NULL ? wbt_a_ != wbt_b_                \
                                             : strcmp(wbt_a_, wbt_b_) != 0)    \
            WBTEST_FAIL_("%s == %s: got \"%s\", expected \"%s\"", #a, #b,      \
                         wbt_a_ ? wbt_a_ : "(null)",                           \
                         wbt_b_ ? wbt_b_ : "(null)");                          \
    } while (0)

#define WB_CHECK_MEM_EQ(a, b, n)                                               \
    do {                                                                       \
        if (memcmp((a), (b), (n)) != 0)                                        \
            WBTEST_FAIL_("%s == %s: %zu bytes differ", #a, #b, (size_t)(n));   \
    } while (0)

/* Substring check, for error messages. */
#define WB_CHECK_STR_CONTAINS(hay, needle)                                     \
    do {                                                                       \
        const char *wbt_h_ = (hay), *wbt_n_ = (needle);                        \
        if (wbt_h_ == NULL || strstr(wbt_h_, wbt_n_) == NULL)                  \
            WBTEST_FAIL_("%s contains %s: got \"%s\", expected to contain "    \
                         "\"%s\"",                                             \
                         #hay, #needle, wbt_h_ ? wbt_h_ : "(null)", wbt_n_);   \
    } while (0)

static inline int wbtest_summary(void)
{
    printf("%d passed, %d failed\n", wbtest_passed, wbtest_failed);
    return wbtest_failed ? 1 : 0;
}

#endif
