/*
 * decode/copyrow.c - rows of COPY ... TO STDOUT (see copyrow.h).
 *
 * Text format (PostgreSQL's copyto.c CopyAttributeOutText, read back as
 * copyfromparse.c CopyReadAttributesText does): fields separated by a tab,
 * the row ended by a newline, SQL NULL written \N; inside a field a
 * backslash escapes \b \f \n \r \t \v, a backslash itself, one to three
 * octal digits or x and one or two hex digits; before any other byte it
 * stands for that byte.
 *
 * Binary format (copyto.c CopyTo / CopyOneRowTo):
 *   header   11 bytes "PGCOPY\n\377\r\n\0", Int32 flags, Int32 extension
 *            length, that many bytes; sent in front of the first row
 *   row      Int16 field count, per field Int32 length (-1: NULL) and
 *            that many bytes
 *   trailer  Int16 -1, in a message of its own (after the header when the
 *            table is empty)
 * Integers are big-endian.
 */
#include <string.h>

#include "common/value.h"
#include "decode/copyrow.h"

static const char signature[11] = "PGCOPY\n\377\r\n";

void wb_copyrow_init(wb_copyrow_reader *r, bool binary, uint16_t ncols)
{
    memset(r, 0, sizeof(*r));
    r->binary = binary;
    r->ncols = ncols;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static int bad(wb_error *err, const char *what)
{
    return wb_error_set(err, WB_EPROTO, "invalid COPY data: %s", what);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Unescape field f[0..n) into dst; returns the length written (<= n). */
static size_t unescape(const char *f, size_t n, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = f[i];
        if (c != '\\' || i + 1 == n) {
            dst[o++] = c;
            continue;
        }
        c = f[++i];
        if (c >= '0' && c <= '7') {
            int v = c - '0';
            for (int k = 0;
                 k < 2 && i + 1 < n && f[i + 1] >= '0' && f[i + 1] <= '7'; k++)
                v = v * 8 + (f[++i] - '0');
            dst[o++] = (char)(v & 0xff);
        } else if (c == 'x' && i + 1 < n && hexval(f[i + 1]) >= 0) {
            int v = hexval(f[++i]);
            if (i + 1 < n && hexval(f[i + 1]) >= 0)
                v = v * 16 + hexval(f[++i]);
            dst[o++] = (char)v;
        } else {
            switch (c) {
            case 'b':
                dst[o++] = '\b';
                break;
            case 'f':
                dst[o++] = '\f';
                break;
            case 'n':
                dst[o++] = '\n';
                break;
            case 'r':
                dst[o++] = '\r';
                break;
            case 't':
                dst[o++] = '\t';
                break;
            case 'v':
                dst[o++] = '\v';
                break;
            default:
                dst[o++] = c;
                break;
            }
        }
    }
    return o;
}

/* out: a row of r->ncols columns, in arena. */
static int new_row(const wb_copyrow_reader *r, wb_arena *arena, wb_tuple *out,
                   wb_error *err)
{
    out->ncols = r->ncols;
    out->cols =
        wb_arena_alloc(arena, (r->ncols ? r->ncols : 1) * sizeof(*out->cols));
    return out->cols ? 0 : wb_error_set(err, WB_ENOMEM, "out of memory");
}

static int decode_text(wb_copyrow_reader *r, const char *buf, size_t len,
                       wb_arena *arena, wb_tuple *out, wb_error *err)
{
    int rc;
    if (len == 0 || buf[len - 1] != '\n')
        return bad(err, "a text row does not end with a newline");
    len--;
    if ((rc = new_row(r, arena, out, err)) != 0)
        return rc;
    size_t start = 0;
    for (uint16_t c = 0; c < r->ncols; c++) {
        size_t end = start;
        while (end < len && buf[end] != '\t')
            end++;
        if (end == len && c + 1 < r->ncols)
            return wb_error_set(err, WB_EPROTO,
                                "invalid COPY data: a row has %u columns, "
                                "expected %u",
                                (unsigned)c + 1, (unsigned)r->ncols);
        if (end < len && c + 1 == r->ncols)
            return wb_error_set(err, WB_EPROTO,
                                "invalid COPY data: a row has more than %u "
                                "columns",
                                (unsigned)r->ncols);
        wb_tuple_value *v = &out->cols[c];
        size_t n = end - start;
        if (n == 2 && buf[start] == '\\' && buf[start + 1] == 'N') {
            v->kind = WB_TUPLE_NULL;
        } else {
            char *p = wb_arena_alloc(arena, WB_VALUE_HDR + n + 1);
            if (!p)
                return wb_error_set(err, WB_ENOMEM, "out of memory");
            size_t m = unescape(buf + start, n, p + WB_VALUE_HDR);
            /* Unescaped in place, so only the header is left to write
             * (wb_value_put would copy the bytes onto themselves). */
            uint32_t m32 = (uint32_t)m;
            memset(p, 0, WB_VALUE_HDR);
            memcpy(p, &m32, sizeof(m32));
            p[WB_VALUE_HDR + m] = '\0';
            v->kind = WB_TUPLE_TEXT;
            v->len = m32;
            v->data = p + WB_VALUE_HDR;
        }
        start = end + 1;
    }
    if (r->ncols == 0 && len != 0)
        return bad(err, "a row of no columns has data");
    return 0;
}

static int decode_binary(wb_copyrow_reader *r, const char *buf, size_t len,
                         wb_arena *arena, wb_tuple *out, bool *row,
                         wb_error *err)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t off = 0;
    int rc;

    if (r->ended)
        return bad(err, "data after the trailer");
    if (!r->header) {
        if (len < 19 || memcmp(p, signature, sizeof(signature)) != 0)
            return bad(err, "the binary header is missing");
        uint32_t ext = be32(p + 15);
        if (ext > len - 19)
            return bad(err, "the binary header's extension is cut short");
        off = 19 + ext;
        r->header = true;
    }
    if (off == len)
        return 0;
    if (len - off < 2)
        return bad(err, "a field count is cut short");
    int16_t nf = (int16_t)(p[off] << 8 | p[off + 1]);
    off += 2;
    if (nf == -1) {
        if (off != len)
            return bad(err, "data after the trailer");
        r->ended = true;
        return 0;
    }
    if (nf != (int16_t)r->ncols)
        return wb_error_set(err, WB_EPROTO,
                            "invalid COPY data: a row has %d columns, "
                            "expected %u",
                            (int)nf, (unsigned)r->ncols);
    if ((rc = new_row(r, arena, out, err)) != 0)
        return rc;
    for (uint16_t c = 0; c < r->ncols; c++) {
        wb_tuple_value *v = &out->cols[c];
        if (len - off < 4)
            return bad(err, "a field length is cut short");
        uint32_t n = be32(p + off);
        off += 4;
        if (n == 0xffffffffu) {
            v->kind = WB_TUPLE_NULL;
            continue;
        }
        if (n > len - off)
            return bad(err, "a field is cut short");
        v->kind = WB_TUPLE_BINARY;
        v->len = n;
        if (!(v->data = wb_value_copy(arena, buf + off, n, true)))
            return wb_error_set(err, WB_ENOMEM, "out of memory");
        off += n;
    }
    if (off != len)
        return bad(err, "a row has bytes after its last field");
    *row = true;
    return 0;
}

int wb_copyrow_decode(wb_copyrow_reader *r, const char *buf, size_t len,
                      wb_arena *arena, wb_tuple *out, bool *row, wb_error *err)
{
    *row = false;
    memset(out, 0, sizeof(*out));
    if (r->binary)
        return decode_binary(r, buf, len, arena, out, row, err);
    int rc = decode_text(r, buf, len, arena, out, err);
    *row = rc == 0;
    return rc;
}
