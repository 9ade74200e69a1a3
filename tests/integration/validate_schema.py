#!/usr/bin/env python3
"""Validate walbridge configuration files against schemas/walbridge.schema.json.

    validate_schema.py SCHEMA FILE.yaml...     each file is one configuration
    validate_schema.py SCHEMA --readme FILE.md every ```yaml block in FILE.md
    validate_schema.py SCHEMA --readme FILE.md --write-dir DIR
                                               ... and write each block, with
                                               its placeholders, to
                                               DIR/readme_LINE.yaml (as JSON,
                                               which is YAML) for `walbridge
                                               check`

Prints "valid NAME" or "invalid NAME: <where>: <message>" per document and
exits 0 when every document is valid, 1 when one is not, 2 on a usage or
read error (a missing module, a YAML syntax error, an unreadable file).

The YAML is read the way walbridge's loader (libyaml) sees it: mapping keys
are their text as written (so `on:` or `N:` stay strings), timestamps stay
text, and anchors/aliases and second documents are refused.  ${VAR} is not
substituted: such a value is a string, which the schema allows where the
loader does.

A README block need not be a whole file: the top-level keys it lacks among
source and mappings are filled with a minimal valid placeholder, so that a
block showing one mapping is checked as a mapping.
"""
import json
import re
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:  # the test must fail, not skip
    print("validate_schema.py: %s (install python3-jsonschema and python3-yaml)" % e,
          file=sys.stderr)
    sys.exit(2)


class Loader(yaml.SafeLoader):
    """SafeLoader with libyaml's view of keys and timestamps."""

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, "expected a mapping", node.start_mark)
        out = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "mapping keys must be scalars", knode.start_mark)
            key = knode.value
            if key in out:
                raise yaml.constructor.ConstructorError(
                    None, None, "duplicate key %r" % key, knode.start_mark)
            out[key] = self.construct_object(vnode, deep=True)
        return out


Loader.add_constructor("tag:yaml.org,2002:map", Loader.construct_mapping)
Loader.add_constructor("tag:yaml.org,2002:timestamp",
                       lambda loader, node: loader.construct_scalar(node))


def load_yaml(text, name):
    for ev in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None):
            raise ValueError("%s: anchors and aliases are not supported "
                             "(walbridge refuses them)" % name)
    docs = list(yaml.load_all(text, Loader=Loader))
    if len(docs) != 1:
        raise ValueError("%s: expected exactly one YAML document, found %d"
                         % (name, len(docs)))
    return docs[0]


PLACEHOLDER_SOURCE = {"conninfo": "${WALBRIDGE_SOURCE}"}
PLACEHOLDER_MAPPINGS = [{"name": "placeholder", "from": "portal.users",
                         "to": "salesforce.account",
                         "key": {"id": "external_id__c"}}]


def readme_blocks(path):
    """(name, text) of every ```yaml block, named README.md:LINE."""
    blocks, cur, start = [], None, 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if cur is None:
                if re.match(r"^\s*```ya?ml\s*$", line):
                    cur, start = [], n + 1
            elif re.match(r"^\s*```\s*$", line):
                blocks.append(("%s:%d" % (path, start), "".join(cur)))
                cur = None
            else:
                cur.append(line)
    if cur is not None:
        raise ValueError("%s:%d: unterminated ```yaml block" % (path, start))
    return blocks


def where(err):
    return "/" + "/".join(str(p) for p in err.absolute_path)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)

    docs = []
    write_dir = None
    args = argv[2:]
    if "--write-dir" in args:
        i = args.index("--write-dir")
        if i + 1 >= len(args):
            print("validate_schema.py: --write-dir needs a directory", file=sys.stderr)
            return 2
        write_dir = args[i + 1]
        del args[i:i + 2]
    try:
        if args[0] == "--readme":
            for path in args[1:]:
                blocks = readme_blocks(path)
                if not blocks:
                    raise ValueError("%s: no ```yaml blocks found" % path)
                for name, text in blocks:
                    doc = load_yaml(text, name)
                    if not isinstance(doc, dict):
                        raise ValueError("%s: a README block must be a map of "
                                         "top-level keys" % name)
                    doc.setdefault("source", PLACEHOLDER_SOURCE)
                    doc.setdefault("mappings", PLACEHOLDER_MAPPINGS)
                    docs.append((name, doc))
                    if write_dir:
                        line = name.rsplit(":", 1)[1]
                        with open("%s/readme_%s.yaml" % (write_dir, line), "w",
                                  encoding="utf-8") as out:
                            json.dump(doc, out, indent=1, ensure_ascii=False)
                            out.write("\n")
        else:
            for path in args:
                with open(path, encoding="utf-8") as f:
                    docs.append((path, load_yaml(f.read(), path)))
    except (OSError, ValueError, yaml.YAMLError) as e:
        print("validate_schema.py: %s" % e, file=sys.stderr)
        return 2

    bad = 0
    for name, doc in docs:
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if not errors:
            print("valid %s" % name)
            continue
        bad += 1
        for err in errors:
            # Where the value was rejected, and for oneOf/anyOf the most
            # relevant cause as the message.
            best = jsonschema.exceptions.best_match([err])
            msg = best.message
            if best is not err:
                msg += " (at %s)" % where(best)
            print("invalid %s: %s: %s" % (name, where(err), msg))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
