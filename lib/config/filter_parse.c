/*
 * config/filter_parse.c - row filters ("filter:") parsed from their text
 * into the trees of config/expr_ast.h, once, at load time.
 *
 * Grammar (a SQL subset; keywords are case-insensitive):
 *
 *   or      := and ( OR and )*
 *   and     := not ( AND not )*
 *   not     := NOT not | pred
 *   pred    := '(' or ')'
 *            | operand IS [NOT] NULL
 *            | operand [NOT] IN '(' literal ( ',' literal )* ')'
 *            | operand cmp operand
 *            | operand                       -- a boolean column, TRUE, FALSE
 *   operand := identifier | "quoted identifier" | 'text' | number
 *            | TRUE | FALSE | NULL
 *   cmp     := = | <> | != | < | <= | > | >=
 *
 * Why this subset: it is what row filters in publications and in other CDC
 * tools are written with, and every part of it can be evaluated on a
 * change's text values without a server (lib/map/expr.c).  Identifiers are
 * NOT folded to lower case: column names elsewhere in the file are taken
 * literally too.  A syntax error gives the byte offset in the text, which
 * mapping.c turns into a file position.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/expr_ast.h"

#define MAX_DEPTH 64

typedef struct parser {
    const char *s;
    size_t pos;
    wb_arena *arena;
    wb_error *err;
    int *offset;
    int depth;
} parser;

static int syntax(parser *p, size_t at, const char *msg)
{
    *p->offset = (int)at;
    return wb_error_set(p->err, WB_ECONFIG, "syntax error in filter: %s", msg);
}

static void skip_ws(parser *p)
{
    while (p->s[p->pos] && isspace((unsigned char)p->s[p->pos]))
        p->pos++;
}

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

/* Is the next token the keyword kw (case-insensitive, whole word)? */
static bool peek_kw(parser *p, const char *kw)
{
    size_t n = strlen(kw);
    skip_ws(p);
    if (strncasecmp(p->s + p->pos, kw, n) != 0)
        return false;
    return !word_char(p->s[p->pos + n]);
}

static bool take_kw(parser *p, const char *kw)
{
    if (!peek_kw(p, kw))
        return false;
    p->pos += strlen(kw);
    return true;
}

static bool is_keyword(const char *w, size_t n)
{
    static const char *const kws[] = {"and", "or",   "not",  "is",
                                      "in",  "null", "true", "false"};
    for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++)
        if (strlen(kws[i]) == n && strncasecmp(w, kws[i], n) == 0)
            return true;
    return false;
}

static wb_filter *new_node(parser *p, wb_filter_kind kind, size_t at)
{
    wb_filter *f = wb_arena_alloc(p->arena, sizeof(*f));
    if (f) {
        memset(f, 0, sizeof(*f));
        f->kind = kind;
        f->offset = (int)at;
    }
    return f;
}

static int nomem(parser *p)
{
    return wb_error_set(p->err, WB_ENOMEM, "out of memory");
}

/* One operand; a bare keyword (TRUE, FALSE, NULL) is a literal. */
static int operand(parser *p, wb_filter_operand *o)
{
    const char *s = p->s;
    size_t start;

    skip_ws(p);
    start = p->pos;
    memset(o, 0, sizeof(*o));
    o->ref = -1;
    if (s[p->pos] == '\'' || s[p->pos] == '"') {
        char q = s[p->pos];
        size_t n = 0, cap = strlen(s + p->pos) + 1;
        char *buf = wb_arena_alloc(p->arena, cap);
        if (!buf)
            return nomem(p);
        p->pos++;
        for (;;) {
            char c = s[p->pos];
            if (c == '\0')
                return syntax(p, start,
                              q == '\'' ? "unterminated string"
                                        : "unterminated quoted "
                                          "identifier");
            p->pos++;
            if (c == q) {
                if (s[p->pos] != q)
                    break;
                p->pos++; /* doubled quote */
            }
            buf[n++] = c;
        }
        buf[n] = '\0';
        if (q == '"' && n == 0)
            return syntax(p, start, "zero-length quoted identifier");
        o->is_column = q == '"';
        o->text = buf;
        return 0;
    }
    if (isdigit((unsigned char)s[p->pos]) ||
        ((s[p->pos] == '-' || s[p->pos] == '+' || s[p->pos] == '.') &&
         (isdigit((unsigned char)s[p->pos + 1]) ||
          (s[p->pos + 1] == '.' && isdigit((unsigned char)s[p->pos + 2]))))) {
        char *end;
        errno = 0;
        (void)strtod(s + p->pos, &end);
        if (end == s + p->pos || word_char(*end))
            return syntax(p, start, "invalid number");
        o->text = wb_arena_strndup(p->arena, s + p->pos,
                                   (size_t)(end - (s + p->pos)));
        if (!o->text)
            return nomem(p);
        o->numeric_literal = true;
        p->pos = (size_t)(end - s);
        return 0;
    }
    if (word_char(s[p->pos])) {
        size_t n = 0;
        while (word_char(s[p->pos + n]))
            n++;
        if (n == 4 && strncasecmp(s + p->pos, "null", 4) == 0) {
            p->pos += n;
            o->text = NULL; /* the NULL literal */
            return 0;
        }
        if ((n == 4 && strncasecmp(s + p->pos, "true", 4) == 0) ||
            (n == 5 && strncasecmp(s + p->pos, "false", 5) == 0)) {
            o->text = n == 4 ? "true" : "false";
            p->pos += n;
            return 0;
        }
        if (is_keyword(s + p->pos, n))
            return syntax(p, start, "expected a column or a value");
        o->is_column = true;
        o->text = wb_arena_strndup(p->arena, s + p->pos, n);
        if (!o->text)
            return nomem(p);
        p->pos += n;
        return 0;
    }
    return syntax(p, start,
                  s[p->pos] ? "expected a column or a value"
                            : "unexpected end of filter");
}

static int parse_or(parser *p, wb_filter **out);

static int cmp_op(parser *p, wb_filter_cmp *cmp)
{
    const char *s = p->s + p->pos;
    static const struct {
        const char *t;
        wb_filter_cmp c;
    } ops[] = {{"<>", WB_CMP_NE}, {"!=", WB_CMP_NE}, {"<=", WB_CMP_LE},
               {">=", WB_CMP_GE}, {"=", WB_CMP_EQ},  {"<", WB_CMP_LT},
               {">", WB_CMP_GT}};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        size_t n = strlen(ops[i].t);
        if (strncmp(s, ops[i].t, n) == 0) {
            p->pos += n;
            *cmp = ops[i].c;
            return 1;
        }
    }
    return 0;
}

static int parse_pred(parser *p, wb_filter **out)
{
    size_t start;
    wb_filter *f;
    int rc;

    skip_ws(p);
    start = p->pos;
    if (p->s[p->pos] == '(') {
        p->pos++;
        if ((rc = parse_or(p, out)) != 0)
            return rc;
        skip_ws(p);
        if (p->s[p->pos] != ')')
            return syntax(p, p->pos, "expected \")\"");
        p->pos++;
        return 0;
    }
    f = new_node(p, WB_FILTER_CMP, start);
    if (!f)
        return nomem(p);
    if ((rc = operand(p, &f->lhs)) != 0)
        return rc;
    if (take_kw(p, "is")) {
        f->kind = WB_FILTER_ISNULL;
        f->negated = take_kw(p, "not");
        if (!take_kw(p, "null"))
            return syntax(p, p->pos, "expected NULL after IS");
    } else if (peek_kw(p, "in") ||
               (peek_kw(p, "not") &&
                (p->pos += 3, skip_ws(p), peek_kw(p, "in")) &&
                (f->negated = true))) {
        size_t cap = 8;
        take_kw(p, "in");
        f->kind = WB_FILTER_IN;
        skip_ws(p);
        if (p->s[p->pos] != '(')
            return syntax(p, p->pos, "expected \"(\" after IN");
        p->pos++;
        f->list = wb_arena_alloc(p->arena, cap * sizeof(*f->list));
        if (!f->list)
            return nomem(p);
        for (;;) {
            if (f->nlist == cap) {
                wb_filter_operand *bigger =
                    wb_arena_alloc(p->arena, 2 * cap * sizeof(*f->list));
                if (!bigger)
                    return nomem(p);
                memcpy(bigger, f->list, cap * sizeof(*f->list));
                f->list = bigger;
                cap *= 2;
            }
            size_t at = p->pos;
            if ((rc = operand(p, &f->list[f->nlist])) != 0)
                return rc;
            if (f->list[f->nlist].is_column)
                return syntax(p, at, "IN lists hold values, not columns");
            f->nlist++;
            skip_ws(p);
            if (p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->s[p->pos] == ')') {
                p->pos++;
                break;
            }
            return syntax(p, p->pos, "expected \",\" or \")\" in IN list");
        }
    } else if (peek_kw(p, "not")) {
        return syntax(p, p->pos, "expected IN after NOT");
    } else {
        skip_ws(p);
        if (cmp_op(p, &f->cmp)) {
            if ((rc = operand(p, &f->rhs)) != 0)
                return rc;
        } else {
            f->kind = WB_FILTER_BOOL;
        }
    }
    if (!f->lhs.is_column && f->kind != WB_FILTER_BOOL &&
        !(f->kind == WB_FILTER_CMP && f->rhs.is_column))
        return syntax(p, start, "a condition must read a column");
    if (f->kind == WB_FILTER_CMP && !f->lhs.is_column) {
        /* 'x' = col: put the column first, mirroring the operator. */
        wb_filter_operand t = f->lhs;
        static const wb_filter_cmp mirror[] = {0,         WB_CMP_EQ, WB_CMP_NE,
                                               WB_CMP_GT, WB_CMP_GE, WB_CMP_LT,
                                               WB_CMP_LE};
        f->lhs = f->rhs;
        f->rhs = t;
        f->cmp = mirror[f->cmp];
    }
    *out = f;
    return 0;
}

static int parse_not(parser *p, wb_filter **out)
{
    size_t start;
    skip_ws(p);
    start = p->pos;
    if (++p->depth > MAX_DEPTH)
        return syntax(p, start, "filter is nested too deeply");
    if (take_kw(p, "not")) {
        wb_filter *f = new_node(p, WB_FILTER_NOT, start);
        int rc;
        if (!f)
            return nomem(p);
        if ((rc = parse_not(p, &f->left)) != 0)
            return rc;
        *out = f;
    } else {
        int rc = parse_pred(p, out);
        if (rc)
            return rc;
    }
    p->depth--;
    return 0;
}

static int parse_binary(parser *p, wb_filter **out, bool is_or)
{
    int rc = is_or ? parse_binary(p, out, false) : parse_not(p, out);
    if (rc)
        return rc;
    for (;;) {
        size_t at;
        skip_ws(p);
        at = p->pos;
        if (!take_kw(p, is_or ? "or" : "and"))
            return 0;
        wb_filter *f = new_node(p, is_or ? WB_FILTER_OR : WB_FILTER_AND, at);
        if (!f)
            return nomem(p);
        f->left = *out;
        rc =
            is_or ? parse_binary(p, &f->right, false) : parse_not(p, &f->right);
        if (rc)
            return rc;
        *out = f;
    }
}

static int parse_or(parser *p, wb_filter **out)
{
    int rc;
    if (++p->depth > MAX_DEPTH)
        return syntax(p, p->pos, "filter is nested too deeply");
    rc = parse_binary(p, out, true);
    p->depth--;
    return rc;
}

int wb_filter_parse(const char *text, wb_arena *arena, wb_filter **out,
                    int *offset, wb_error *err)
{
    parser p = {text, 0, arena, err, offset, 0};
    int rc;

    *offset = 0;
    skip_ws(&p);
    if (!text[p.pos])
        return syntax(&p, 0, "filter is empty");
    rc = parse_or(&p, out);
    if (rc)
        return rc;
    skip_ws(&p);
    if (text[p.pos])
        return syntax(&p, p.pos, "unexpected text after the condition");
    return 0;
}
