/*
 * check/catinfo.h - what the catalogs say about the relations of one
 * mapping, for the checks of check/catalog.c.
 *
 * One query per database reads everything the checks need about a set of
 * relations: whether schema and table exist, relkind, replica identity,
 * publication membership, the columns with their types (format_type for
 * messages, typcategory for the conversion rule), the unique and replica
 * identity indexes with their key columns, and the pg_cast entries into
 * the columns' types.  The rule that says whether a value of one type may
 * be written into a column (values travel as text; binary ones only between
 * columns of one type, check/binary.h) is here too, since it
 * reads those casts.  Names are always query parameters.
 */
#ifndef WB_CHECK_CATINFO_H
#define WB_CHECK_CATINFO_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "common/error.h"
#include "config/config.h"

/* Which database a relation is read from. */
enum { WB_CATINFO_SRC = 0, WB_CATINFO_TGT = 1 };

typedef struct wb_catinfo_col {
    const char *name;
    const char *type;    /* format_type with typmod, for messages */
    const char *typname; /* format_type without typmod, for comparing */
    char cat;            /* pg_type.typcategory */
    unsigned long oid;
} wb_catinfo_col;

typedef struct wb_catinfo_idx {
    const char *name;
    const char *flags; /* u unique, p partial, r replica identity, k primary,
                          d deferrable, v not valid */
    size_t ncols;
    const char **cols; /* key columns; NULL for an expression */
} wb_catinfo_idx;

typedef struct wb_catinfo_cast {
    unsigned long target, source;
    const char *source_name;
} wb_catinfo_cast;

typedef struct wb_catinfo_rel {
    const wb_config_table *t;
    int side; /* WB_CATINFO_SRC or WB_CATINFO_TGT */
    bool nsp_exists, exists;
    char relkind, replident;
    int in_pub; /* 1 yes, 0 no, -1 the publication does not exist */
    size_t ncols, nidx;
    wb_catinfo_col *cols;
    wb_catinfo_idx *idx;
} wb_catinfo_rel;

/*
 * The relations of one mapping and what was read about them.  The caller
 * sets conn[] (conn[0] only when same_db: both sides are one database,
 * whose OIDs are then comparable) and zeroes the rest.
 */
typedef struct wb_catinfo {
    bool same_db;
    PGconn *conn[2]; /* by WB_CATINFO_SRC/TGT; ordinary, idle */
    PGresult *res[2];
    size_t ncasts[2];
    wb_catinfo_cast *casts[2];
    size_t nrels, caprels;
    wb_catinfo_rel *rels;
} wb_catinfo;

/* A value's type, as far as it is known before it reaches the target. */
typedef struct wb_catinfo_type {
    bool known;
    int side; /* whose OID: WB_CATINFO_SRC, _TGT, or -1 built-in (fixed) */
    unsigned long oid;
    const char *name;  /* format_type without typmod */
    const char *shown; /* with typmod */
    char cat;
} wb_catinfo_type;

/* Room for n relations (what wb_catinfo_add may add): 0 or WB_ENOMEM. */
int wb_catinfo_reserve(wb_catinfo *ci, size_t n);

/* Add table t (which must outlive ci's use) of side unless it is there:
 * 0, or WB_ENOMEM when more relations than reserved are added. */
int wb_catinfo_add(wb_catinfo *ci, int side, const wb_config_table *t);

/*
 * Run the catalog query on conn[db] for the relations of the given sides
 * (a bit set of 1 << WB_CATINFO_SRC, 1 << WB_CATINFO_TGT) and fill them
 * in, with the casts into their columns' types.  publication is asked
 * about for the source's tables.  0, or WB_ENOMEM, or the query's error
 * (err names mapping, for which the catalog is read).
 */
int wb_catinfo_load(wb_catinfo *ci, int db, unsigned sides,
                    const char *publication, const char *mapping,
                    wb_error *err);

/* Forget the relations and what was read (conn[] and same_db stay). */
void wb_catinfo_reset(wb_catinfo *ci);

/* The relation schema.table of side, or NULL. */
wb_catinfo_rel *wb_catinfo_find_rel(const wb_catinfo *ci, int side,
                                    const char *schema, const char *table);

/* Column name of r (NULL r allowed), or NULL. */
const wb_catinfo_col *wb_catinfo_find_col(const wb_catinfo_rel *r,
                                          const char *name);

/* r exists and is a relation the mapping can read (source: a table) or
 * write (target: a table, or a view or such, reported by the checks). */
bool wb_catinfo_usable(const wb_catinfo_rel *r);

/* The type of column cl of side; a built-in type by its fixed OID. */
wb_catinfo_type wb_catinfo_col_type(const wb_catinfo_col *cl, int side);
wb_catinfo_type wb_catinfo_builtin(unsigned long oid, const char *name,
                                   char cat);

/* May a value of type v be written into column to (of side)?  An unknown
 * type (a literal) may. */
bool wb_catinfo_convertible(const wb_catinfo *ci, wb_catinfo_type v,
                            const wb_catinfo_col *to, int side);

#endif
