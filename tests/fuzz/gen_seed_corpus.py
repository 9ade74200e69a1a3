#!/usr/bin/env python3
"""Write the hand-made seed inputs of fuzz_pgarray, fuzz_spool and fuzz_expr.

    python3 tests/fuzz/gen_seed_corpus.py tests/fuzz/corpus

Deterministic, so the committed seeds (corpus/<name>/seed-*) can be
regenerated and diffed.  The input formats are described at the top of
each harness; the rest of each corpus directory was grown by libFuzzer
(see tests/fuzz/run.sh).
"""
import os
import struct
import sys


def u16(n):
    return struct.pack(">H", n)


# fuzz_pgarray: 2-byte limit, elements split at NUL, "\x01" alone is NULL.
def pgarray():
    def arr(limit, *elems):
        return u16(limit) + b"\0".join(elems)
    return {
        "plain": arr(0, b"a", b"b c", b""),
        "null_and_word_null": arr(0, b"\x01", b"NULL", b"null"),
        "quotes_backslashes": arr(0, b'a"b\\c', b"\\", b'"', b"end\\"),
        "braces_commas_spaces": arr(0, b"{x, y}", b" lead", b"trail ", b","),
        "utf8_and_invalid": arr(0, "grüße".encode(), b"\xff\xfe\xc0", b"\xe2\x82"),
        "limit_exact": arr(4, b""),
        "limit_small": arr(16, b"0123456789", b"0123456789"),
    }


# fuzz_spool: spool byte, then ops: 0 append t sub len16 bytes, 1 abort t sub,
# 2 flag t on, 3 replay t stop, 4 raw t mode len16 bytes, 5 clear.
def spool():
    def app(t, sub, data):
        return bytes([0, t, sub]) + u16(len(data)) + data
    def abort(t, sub):
        return bytes([1, t, sub])
    def flag(t, on):
        return bytes([2, t, on])
    def replay(t, stop=0):
        return bytes([3, t, stop])
    def raw(t, replace, data):
        return bytes([4, t, replace]) + u16(len(data)) + data
    return {
        "append_replay": b"\0" + app(0, 0, b"I-one") + app(0, 0, b"") + replay(0),
        "two_txns_interleaved": b"\0" + app(0, 0, b"a") + app(1, 0, b"b")
        + app(0, 0, b"c") + replay(1) + replay(0),
        "subxact_abort": b"\0" + app(0, 0, b"top") + app(0, 1, b"s1")
        + app(0, 2, b"s2") + app(0, 0, b"top2") + abort(0, 2) + app(0, 3, b"s3")
        + abort(0, 1) + replay(0),
        "top_abort": b"\0" + app(2, 0, b"x") + app(2, 1, b"y") + abort(2, 0) + replay(2),
        "flag_and_stop": b"\0" + flag(3, 1) + app(3, 0, b"m1") + app(3, 0, b"m2")
        + replay(3, 1),
        "too_many_open": b"\0" + app(0, 0, b"a") + app(1, 0, b"b") + app(2, 0, b"c")
        + app(3, 0, b"d") + bytes([5]),
        "bad_dir": b"\x01" + app(0, 0, b"a") + flag(1, 1) + replay(0),
        "raw_garbage": b"\0" + app(0, 0, b"ok") + raw(0, 0, b"\xff\xff\xff\x7f")
        + replay(0),
        "raw_replace_short": b"\0" + app(1, 1, b"abc") + raw(1, 1, b"\x05\0\0\0ab")
        + replay(1),
    }


# fuzz_expr: six columns (kind%5: 0 null, 1 text, 2 unchanged, 3 absent,
# 4 missing; type index kind/5), then the expression, then filter text.
NULL, TEXT, UNCH, ABSENT, MISSING = range(5)
TYPES = {"none": 0, "bool": 1, "int8": 2, "int2": 3, "int4": 4, "text": 5,
         "float4": 6, "float8": 7, "numeric": 8, "date": 9}


def col(kind, typ="none", val=b""):
    b = bytes([kind + 5 * TYPES[typ]])
    if kind == TEXT:
        b += bytes([len(val)]) + val
    return b


def long_col(typ, pattern, kib):
    return bytes([TEXT + 5 * TYPES[typ], 250, len(pattern) - 1]) \
        + bytes([kib - 1]) + pattern


def s(t):  # a string operand
    return bytes([len(t)]) + t


def e_col(i):
    return bytes([0, i])


def e_const(t):
    return bytes([1]) + (b"\xff" if t is None else s(t))


def e_fn(op, arg):  # lower 2, upper 3, trim 4
    return bytes([op]) + arg


def e_concat(args, sep=None):
    b = bytes([5, len(args) - 1])
    b += b"\0" if sep is None else b"\x01" + s(sep)
    return b + b"".join(args)


def e_split(arg, sep, part):
    return bytes([6, part & 0xff]) + s(sep) + arg


def e_cast(arg, to):  # text integer bigint numeric boolean date
    return bytes([7, ["text", "integer", "bigint", "numeric", "boolean",
                      "date"].index(to)]) + arg


def e_coalesce(args):
    return bytes([8, len(args) - 1]) + b"".join(args)


def e_map(arg, pairs, els=None):
    b = bytes([9, len(pairs) - 1, 1 if els else 0])
    for f, t in pairs:
        b += (b"\xff" if f is None else s(f)) + (b"\xff" if t is None else s(t))
    return b + arg + (els or b"")


def e_lookup(arg):
    return bytes([10]) + arg


def expr():
    row = (col(TEXT, "text", b" Mixed Case ") + col(TEXT, "int4", b"42")
           + col(NULL, "text") + col(UNCH, "text") + col(TEXT, "bool", b"yes")
           + col(TEXT, "date", b"2024-02-29 12:00:00"))
    return {
        "lower_trim": row + e_fn(2, e_fn(4, e_col(0))) + b"c1 > 10",
        "upper_invalid_utf8": col(TEXT, "text", b"a\xff\xc3(b") + col(NULL) * 5
        + e_fn(3, e_col(0)) + b"c0 IS NOT NULL",
        "concat_sep_nulls": row + e_concat([e_col(0), e_col(2), e_const(b"x")], b", ")
        + b"c2 IS NULL AND NOT c4",
        "concat_many": row + e_concat([e_col(1)] * 10) + b"c1 IN (1, 2, 42)",
        "split_parts": row + e_split(e_const(b"a,b,,c"), b",", -1)
        + b"c0 = ' Mixed Case ' OR c1 <> 3",
        "cast_all": row + e_coalesce([e_cast(e_col(1), "integer"),
                                      e_cast(e_col(4), "boolean"),
                                      e_cast(e_col(5), "date")]) + b"c4",
        "cast_bad_number": row + e_cast(e_col(0), "numeric") + b"c1 = 'x'",
        "map_else": row + e_map(e_col(1), [(b"42", b"answer"), (None, b"none")],
                                e_const(b"other")) + b"c9 NOT IN ('a', NULL)",
        "map_miss": row + e_map(e_col(0), [(b"A", b"Active")]) + b"(c3 = 1) OR c0 < c5",
        "unchanged_absent": row + e_lookup(e_concat([e_col(3), e_col(6)]))
        + b"NOT (c3 >= 'a' AND c6 <= 2)",
        "long_value": long_col("numeric", b"12,", 16) + col(MISSING) * 5
        + e_split(e_col(0), b",", 3) + b"c0 > 5",
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus"
    for name, seeds in (("pgarray", pgarray()), ("spool", spool()),
                        ("expr", expr())):
        os.makedirs(os.path.join(out, name), exist_ok=True)
        for k, v in seeds.items():
            with open(os.path.join(out, name, "seed-" + k), "wb") as f:
                f.write(v)


if __name__ == "__main__":
    main()
