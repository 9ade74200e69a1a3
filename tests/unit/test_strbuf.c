/*
 * test_strbuf.c - the string builder: growth, the sticky error, the limit,
 * and identifier, literal and parameter quoting.
 */
#include <string.h>

#include "common/strbuf.h"
#include "common/error.h"
#include "wbtest.h"

static void test_append_grows(void)
{
    wb_strbuf b = {0};
    WB_CHECK_STR_EQ(wb_strbuf_str(&b), "");
    for (int i = 0; i < 1000; i++)
        WB_CHECK_INT_EQ(wb_strbuf_add(&b, "abc"), 0);
    WB_CHECK_INT_EQ(b.len, 3000);
    WB_CHECK_INT_EQ(strlen(b.data), 3000);
    WB_CHECK(memcmp(b.data + 2997, "abc", 4) == 0);
    WB_CHECK_INT_EQ(wb_strbuf_append(&b, "xyz", 2), 0);
    WB_CHECK_STR_EQ(b.data + 3000, "xy");
    wb_strbuf_reset(&b);
    WB_CHECK_INT_EQ(b.len, 0);
    WB_CHECK_STR_EQ(wb_strbuf_str(&b), "");
    wb_strbuf_free(&b);
    WB_CHECK(b.data == NULL);
}

static void test_fmt(void)
{
    wb_strbuf b = {0};
    WB_CHECK_INT_EQ(wb_strbuf_append_fmt(&b, "%s=%d", "n", 42), 0);
    WB_CHECK_STR_EQ(b.data, "n=42");
    /* longer than the formatter's small buffer */
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    WB_CHECK_INT_EQ(wb_strbuf_append_fmt(&b, "[%s]", big), 0);
    WB_CHECK_INT_EQ(b.len, 4 + 2 + 599);
    WB_CHECK(b.data[4] == '[' && b.data[b.len - 1] == ']');
    WB_CHECK(b.data[b.len] == '\0');
    wb_strbuf_free(&b);
}

/* extend: n more bytes for the caller to fill, NUL after them; past the
 * limit nothing, and the failure sticks. */
static void test_extend(void)
{
    wb_strbuf b = {0};
    b.limit = 10;
    WB_CHECK_INT_EQ(wb_strbuf_add(&b, "ab"), 0);
    char *p = wb_strbuf_extend(&b, 3);
    WB_CHECK(p == b.data + 2);
    memcpy(p, "cde", 3);
    WB_CHECK_INT_EQ(b.len, 5);
    WB_CHECK_STR_EQ(b.data, "abcde");
    WB_CHECK(wb_strbuf_extend(&b, 6) == NULL);
    WB_CHECK_INT_EQ(b.err, WB_ELIMIT);
    WB_CHECK_STR_EQ(b.data, "abcde");
    WB_CHECK(wb_strbuf_extend(&b, 1) == NULL); /* would fit: sticky */
    wb_strbuf_free(&b);
}

/* The first failure sticks: later appends add nothing, reset clears it. */
static void test_sticky_limit(void)
{
    wb_strbuf b = {0};
    b.limit = 7; /* seven bytes (and the NUL) */
    WB_CHECK_INT_EQ(wb_strbuf_add(&b, "12345"), 0);
    WB_CHECK_INT_EQ(wb_strbuf_add(&b, "678"), WB_ELIMIT);
    WB_CHECK_INT_EQ(b.err, WB_ELIMIT);
    WB_CHECK_STR_EQ(b.data, "12345");
    WB_CHECK_INT_EQ(wb_strbuf_add(&b, "6"), WB_ELIMIT); /* would fit */
    WB_CHECK_INT_EQ(wb_strbuf_append_ident(&b, "a"), WB_ELIMIT);
    WB_CHECK_INT_EQ(wb_strbuf_append_fmt(&b, "%d", 1), WB_ELIMIT);
    WB_CHECK_STR_EQ(b.data, "12345");
    WB_CHECK(b.cap <= 8);
    wb_strbuf_reset(&b);
    WB_CHECK_INT_EQ(b.err, 0);
    WB_CHECK_INT_EQ(wb_strbuf_add(&b, "1234567"), 0);
    WB_CHECK_INT_EQ(wb_strbuf_add(&b, "8"), WB_ELIMIT);
    wb_strbuf_reset(&b);
    /* what does not fit is not half-written */
    WB_CHECK_INT_EQ(wb_strbuf_append_fmt(&b, "%s", "123456789"), WB_ELIMIT);
    WB_CHECK_INT_EQ(b.len, 0);
    wb_strbuf_free(&b);

    /* An append of exactly limit bytes to a non-empty buffer: limit - n
     * must not wrap around (main's pgarray fix, found by fuzz_pgarray). */
    b.limit = 4;
    WB_CHECK_INT_EQ(wb_strbuf_add(&b, "ab"), 0);
    WB_CHECK_INT_EQ(wb_strbuf_add(&b, "wxyz"), WB_ELIMIT);
    WB_CHECK(b.len == 2 && b.cap <= 5);
    wb_strbuf_reset(&b);
    WB_CHECK_INT_EQ(wb_strbuf_add(&b, "wxyz"), 0);
    WB_CHECK_STR_EQ(b.data, "wxyz");
    wb_strbuf_free(&b);
}

static const char *ident(wb_strbuf *b, const char *id)
{
    wb_strbuf_reset(b);
    wb_strbuf_append_ident(b, id);
    return wb_strbuf_str(b);
}

static const char *literal(wb_strbuf *b, const char *s)
{
    wb_strbuf_reset(b);
    wb_strbuf_append_literal(b, s);
    return wb_strbuf_str(b);
}

/* As PQescapeIdentifier: always quoted, '"' doubled, nothing else
 * touched (case, spaces, backslashes, UTF-8). */
static void test_ident(void)
{
    wb_strbuf b = {0};
    WB_CHECK_STR_EQ(ident(&b, "plain"), "\"plain\"");
    WB_CHECK_STR_EQ(ident(&b, "Upper Case"), "\"Upper Case\"");
    WB_CHECK_STR_EQ(ident(&b, "a\"b"), "\"a\"\"b\"");
    WB_CHECK_STR_EQ(ident(&b, "\""), "\"\"\"\"");
    WB_CHECK_STR_EQ(ident(&b, ""), "\"\"");
    WB_CHECK_STR_EQ(ident(&b, "it's\\x"), "\"it's\\x\"");
    WB_CHECK_STR_EQ(ident(&b, "sch\xc3\xa9ma \xe2\x82\xac"),
                    "\"sch\xc3\xa9ma \xe2\x82\xac\"");
    WB_CHECK_STR_EQ(ident(&b, "select"), "\"select\"");
    wb_strbuf_reset(&b);
    wb_strbuf_append_rel(&b, "My Schema", "t\"1");
    WB_CHECK_STR_EQ(b.data, "\"My Schema\".\"t\"\"1\"");
    wb_strbuf_free(&b);
}

/* As PQescapeLiteral: '\'' doubled; with a backslash, " E'...'" and the
 * backslashes doubled. */
static void test_literal(void)
{
    wb_strbuf b = {0};
    WB_CHECK_STR_EQ(literal(&b, "plain"), "'plain'");
    WB_CHECK_STR_EQ(literal(&b, ""), "''");
    WB_CHECK_STR_EQ(literal(&b, "it's"), "'it''s'");
    WB_CHECK_STR_EQ(literal(&b, "say \"hi\""), "'say \"hi\"'");
    WB_CHECK_STR_EQ(literal(&b, "a\\b'c"), " E'a\\\\b''c'");
    WB_CHECK_STR_EQ(literal(&b, "\xc3\xa9t\xc3\xa9"), "'\xc3\xa9t\xc3\xa9'");
    wb_strbuf_free(&b);
}

static void test_param(void)
{
    wb_strbuf b = {0};
    wb_strbuf_append_param(&b, 1);
    wb_strbuf_add(&b, ", ");
    wb_strbuf_append_param(&b, 65535);
    WB_CHECK_STR_EQ(b.data, "$1, $65535");
    WB_CHECK_INT_EQ(b.err, 0);
    wb_strbuf_free(&b);
}

int main(void)
{
    WB_RUN(test_append_grows);
    WB_RUN(test_fmt);
    WB_RUN(test_sticky_limit);
    WB_RUN(test_extend);
    WB_RUN(test_ident);
    WB_RUN(test_literal);
    WB_RUN(test_param);
    return wbtest_summary();
}
