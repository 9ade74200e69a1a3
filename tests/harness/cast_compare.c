/*
 * cast_compare - walbridge's casts against PostgreSQL's, value by value.
 *
 *   wb_cast_compare CONNINFO
 *
 * For every input of the tables below, cast to integer, bigint, numeric
 * and boolean (and text), compares what walbridge's { cast: E, to: T }
 * gives (lib/map/expr.c, evaluated as the built-in mapping evaluates it) with
 * what the server gives for SELECT CAST($1 AS T)::text: the same text, or
 * an error with the same message.  Only the inputs are written here; every
 * expected result comes from the server.  Casts to date are not evaluated
 * by walbridge at all but by the target (test_casts.sh runs them through a
 * real walbridge); here only that their value passes unchanged.
 *
 * Prints one line per mismatch and "N passed, M failed"; exits 1 on any
 * mismatch, 2 when the server cannot be reached.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map/expr.h"

/* Inputs read as numbers: integer, bigint and numeric each get them all. */
static const char *const numbers[] = {
    "0",
    "-0",
    "+0",
    "+07",
    "42",
    " 42",
    "42 ",
    "\t42\n",
    "\v42\f",
    "\r42",
    "0000",
    "00000000000000000000000042",
    "+-1",
    "--1",
    "- 1",
    "1 2",
    "",
    "  ",
    "+",
    "-",
    "2147483647",
    "+2147483647",
    "2147483647 ",
    "2147483648",
    "-2147483648",
    "  -2147483648  ",
    "-2147483649",
    "4294967296",
    "-4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999",
    "99999999999x",
    "12abc",
    "abc",
    "1.0",
    "1.",
    "1.5",
    ".5",
    "-.5",
    "+.5",
    "5.",
    "-0.00",
    "0.000",
    "1.50",
    "0x1A",
    "0X1a",
    "0o17",
    "0b101",
    "1_000",
    "1,000",
    "1 000",
    "$1",
    "\xef\xbc\x91\xef\xbc\x92", /* fullwidth 12 */
    "\xc2\xa0"
    "12",       /* no-break space */
    "\xd9\xa3", /* Arabic-Indic 3 */
    "1e3",
    "1E+3",
    "1e-3",
    "1e 3",
    "1e+ 3",
    "1e",
    "e3",
    ".",
    "..1",
    "1..2",
    "1.2.3",
    "1e3.5",
    "1e+",
    "1e-",
    "0.1e1",
    "12.345e2",
    "+12.345E+2",
    "1.5e-3",
    "-1.5E-3",
    "1e-20",
    "0.0000000000000000000001",
    "5e-324",
    "1.7976931348623157e308",
    "123456789012345678901234567890.123456789",
    "-123456789012345678901234567890e-40",
    "-0000.0000e5",
    "0e100000",
    "1e131071",
    "9e131071",
    "1e131072",
    "1e-16383",
    "1e-16384",
    "0e-16384",
    "0.5e-16383",
    "1e1073741822",
    "1e1073741823",
    "1e-1073741823",
    "1e2147483648",
    "1e99999999999999999999",
    "NaN",
    "nan",
    " NaN ",
    "NAN",
    "NaNx",
    "-NaN",
    "inf",
    "Inf",
    "+inf",
    "-inf",
    "+INF",
    "-iNf",
    "infinity",
    "Infinity",
    "-Infinity",
    "+infinity",
    "infinit",
    "infinityx",
    " -Infinity\t",
    "in",
    "1 e3",
    "-0x10",
    "nan(1)",
    "+nan",
    "0x1p3",
    "1e3x",
    "infinity1",
};

/* Inputs read as truth values. */
static const char *const bools[] = {
    "t",          "tr",    "tru",       "true",      "truee", "T",    "TR",
    "TRUE",       "tRuE",  "f",         "fa",        "fal",   "fals", "false",
    "falsee",     "F",     "FALSE",     "FaLsE",     "y",     "ye",   "yes",
    "yess",       "Y",     "YES",       "Yes",       "n",     "no",   "noo",
    "N",          "NO",    "nO",        "o",         "O",     "on",   "ON",
    "oN",         "onn",   "of",        "OF",        "off",   "OFF",  "offf",
    "1",          "0",     "2",         "10",        "01",    "+1",   "-0",
    "1.0",        "  t  ", "\tf\n",     "\von\f",    "on ",   " off", "t rue",
    "",           " ",     "\xc2\xa0t", "t\xc2\xa0", "ja",    "nein", "yes!",
    "true false", "null",  "NULL",      "unknown",
};

/* Texts are kept as they are. */
static const char *const texts[] = {"", " as is ", "Ünïcödé", "0044-03-15 BC",
                                    "NaN"};

static const char *const type_names[] = {
    "", "text", "integer", "bigint", "numeric", "boolean", "date"};

static void *alloc(void *ctx, size_t n)
{
    return wb_arena_alloc(ctx, n);
}

static int passed, failed;

/* Show s with its control characters escaped, for a mismatch report. */
static const char *shown(const char *s, char *buf, size_t n)
{
    size_t o = 0;
    for (; *s && o + 5 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == '\\')
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return buf;
}

static void compare(PGconn *conn, wb_arena *arena, wb_cast_type to,
                    const char *in)
{
    static wb_expr column = {.kind = WB_EXPR_COLUMN, .name = "v", .ref = 0};
    static wb_expr *args[] = {&column};
    wb_expr cast = {.kind = WB_EXPR_CAST, .nargs = 1, .args = args};
    wb_plugin_value value = {WB_PLUGIN_VALUE_TEXT, in};
    const wb_plugin_value *slots[] = {&value};
    wb_eval_row row = {slots, NULL};
    wb_eval_mem mem = {alloc, arena};
    wb_plugin_value out = {WB_PLUGIN_VALUE_ABSENT, NULL};
    wb_error err;
    char sql[64], wb[256], pg[256], b1[128];
    const char *tname = type_names[to];

    cast.cast_to = to;
    wb_error_clear(&err);
    int rc = wb_expr_eval(&cast, &row, &mem, &out, &err);
    if (rc == 0 && out.kind == WB_PLUGIN_VALUE_TEXT)
        snprintf(wb, sizeof(wb), "value %.200s", out.text);
    else if (rc == WB_EDATA && strcmp(err.column, "v") == 0)
        snprintf(wb, sizeof(wb), "error %.200s", err.message);
    else
        snprintf(wb, sizeof(wb), "rc %d kind %d: %.200s", rc, (int)out.kind,
                 err.message);

    snprintf(sql, sizeof(sql), "SELECT CAST($1 AS %s)::text", tname);
    const char *params[] = {in};
    PGresult *res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        snprintf(pg, sizeof(pg), "value %.200s", PQgetvalue(res, 0, 0));
    else
        snprintf(pg, sizeof(pg), "error %.200s",
                 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    PQclear(res);
    wb_arena_reset(arena);

    if (strcmp(wb, pg) == 0) {
        passed++;
        return;
    }
    failed++;
    printf("not ok - CAST('%s' AS %s)\n  walbridge:  %s\n  PostgreSQL: %s\n",
           shown(in, b1, sizeof(b1)), tname, wb, pg);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: wb_cast_compare CONNINFO\n");
        return 2;
    }
    PGconn *conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "wb_cast_compare: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 2;
    }
    wb_arena *arena = wb_arena_create(0, 0);
    if (!arena)
        return 2;
    static const wb_cast_type numeric_types[] = {
        WB_CAST_INTEGER, WB_CAST_BIGINT, WB_CAST_NUMERIC};
    for (size_t t = 0; t < 3; t++)
        for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
            compare(conn, arena, numeric_types[t], numbers[i]);
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
        compare(conn, arena, WB_CAST_BOOLEAN, bools[i]);
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        compare(conn, arena, WB_CAST_TEXT, texts[i]);
    wb_arena_destroy(arena);
    PQfinish(conn);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
