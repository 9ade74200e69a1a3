/*
 * config/expr_ast.h - the trees of the declarative mapping's expression
 * language: value expressions ("values:") and row filters ("filter:").
 *
 * The language is the configuration file's, so its trees and parsers live
 * in lib/config/: expr_parse.c builds value expressions at load time,
 * filter_parse.c filter text.  lib/map/expr.c evaluates them per change;
 * builtin.c, link.c and catalog.c read them.  config.h names wb_expr and
 * wb_filter only as incomplete types, so that users of the configuration
 * do not carry the language.  The only thing taken from config.h is
 * wb_config_pos, where a node was written.
 */
#ifndef WALBRIDGE_EXPR_AST_H
#define WALBRIDGE_EXPR_AST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/error.h"
#include "config/config.h"

/*
 * Value expressions of the declarative mapping ("values:"), parsed at load
 * time into a tree and evaluated per change by lib/map/expr.c.  A scalar in an
 * expression is a source column name; a literal is { const: ... }.
 */
typedef enum wb_expr_kind {
    WB_EXPR_COLUMN = 1, /* a source column (name) */
    WB_EXPR_CONST,      /* a literal (text, or NULL) */
    WB_EXPR_LOWER,      /* lower(arg) */
    WB_EXPR_UPPER,      /* upper(arg) */
    WB_EXPR_TRIM,       /* btrim(arg) of spaces, tabs and newlines */
    WB_EXPR_CONCAT, /* args joined by sep; NULL args skipped; all NULL: NULL */
    WB_EXPR_SPLIT,  /* part number part (1-based; < 0 from the end) of
                       arg split on sep; missing part: NULL */
    WB_EXPR_CAST,   /* arg as PostgreSQL's CAST(arg AS cast_to); a
                       date cast is left to the target */
    WB_EXPR_COALESCE, /* first non-NULL arg */
    WB_EXPR_MAP,      /* value map: args[0] looked up in map_from/map_to;
                         no match: args[1] (else:) or a data error */
    WB_EXPR_LOOKUP    /* resolved on the target at apply time: the value of
                         lookup.column in the row of lookup.table whose
                         lookup.match column equals args[0]; top level of
                         "values" only */
} wb_expr_kind;

typedef enum wb_cast_type {
    WB_CAST_TEXT = 1,
    WB_CAST_INTEGER, /* int4 range */
    WB_CAST_BIGINT,
    WB_CAST_NUMERIC,
    WB_CAST_BOOLEAN, /* t/true/yes/on/1 and f/false/no/off/0 -> true/false */
    WB_CAST_DATE     /* YYYY-MM-DD prefix of a date or timestamp */
} wb_cast_type;

typedef struct wb_expr {
    wb_expr_kind kind;
    char *name; /* COLUMN: source column; CONST: the text (NULL:
                   SQL NULL) */
    int ref;    /* COLUMN: index into the mapping's refs[] */
    size_t nargs;
    struct wb_expr **args;
    char *sep; /* CONCAT (default ""), SPLIT (required) */
    int part;  /* SPLIT */
    wb_cast_type cast_to;
    size_t nmap; /* MAP */
    char **map_from;
    char **map_to; /* NULL entries: SQL NULL */
    struct {
        char *schema, *table; /* unquoted */
        char *match;          /* target column compared with args[0] */
        char *column;         /* the column whose value is taken */
    } lookup;
    wb_config_pos pos;
} wb_expr;

/*
 * Row filters ("filter:"), written in a small SQL subset and parsed at load
 * time: comparisons (= <> != < <= > >=) of a column with a literal or
 * another column, IN (...), IS [NOT] NULL, AND, OR, NOT and parentheses.
 * Evaluation follows SQL's three-valued logic; only TRUE passes.
 */
typedef enum wb_filter_kind {
    WB_FILTER_AND = 1,
    WB_FILTER_OR,
    WB_FILTER_NOT,
    WB_FILTER_CMP,    /* lhs op rhs */
    WB_FILTER_IN,     /* lhs IN (list) (negated: NOT IN) */
    WB_FILTER_ISNULL, /* lhs IS NULL (negated: IS NOT NULL) */
    WB_FILTER_BOOL    /* a boolean column alone, or TRUE/FALSE */
} wb_filter_kind;

typedef enum wb_filter_cmp {
    WB_CMP_EQ = 1,
    WB_CMP_NE,
    WB_CMP_LT,
    WB_CMP_LE,
    WB_CMP_GT,
    WB_CMP_GE
} wb_filter_cmp;

/* An operand: a column, or a literal (NULL text: the NULL literal). */
typedef struct wb_filter_operand {
    bool is_column;
    char *text;           /* column name or literal text */
    int ref;              /* column: index into the mapping's refs[] */
    bool numeric_literal; /* an unquoted number */
} wb_filter_operand;

typedef struct wb_filter {
    wb_filter_kind kind;
    bool negated;                   /* IN, ISNULL */
    wb_filter_cmp cmp;              /* CMP */
    struct wb_filter *left, *right; /* AND, OR (both), NOT (left) */
    wb_filter_operand lhs, rhs;     /* CMP, ISNULL, BOOL (lhs) */
    size_t nlist;                   /* IN */
    wb_filter_operand *list;
    int offset; /* byte offset in the source text */
} wb_filter;

/*
 * Parse filter text into *out (arena).  On a syntax error returns WB_ECONFIG
 * with err's message set (no position) and *offset the byte offset in text
 * where the problem is.  (filter_parse.c)
 */
int wb_filter_parse(const char *text, wb_arena *arena, wb_filter **out,
                    int *offset, wb_error *err);

/*
 * Number the source columns that m's values and filter read into m->refs /
 * m->nrefs, and set each column node's ref to its index.  WB_ENOMEM or 0.
 * (expr_refs.c)
 */
int wb_mapping_number_refs(wb_config_mapping *m, wb_arena *arena);

#endif
