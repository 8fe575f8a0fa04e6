#!/usr/bin/env python3
"""Derives the required attributes of the OCSF classes o365-ocsf writes, from the OCSF schema.

Usage: python3 ocsf/schema/derive.py GIT_DIR_OF_ocsf-schema [TAG] > ocsf/schema/required-1.1.0.json

Reads the schema straight from a git directory of https://github.com/ocsf/ocsf-schema at a tag
(default v1.1.0) with `git show`, so no work tree is needed. For each class: the attributes it
inherits (base_event, then the category's class, then the class), their `$include`s (profiles
only when the event declares that profile: `cloud`, and `host` where the class offers it), the requirement the most
specific definition gives, the type from dictionary.json (object types followed into
objects/*.json, recursively, for required attributes of required objects), `at_least_one`
constraints, and the class's `activity_id` enum. Standard library only.
"""
import json
import subprocess
import sys

CLASSES = ["authentication", "account_change", "group_management", "user_access",
           "file_hosting", "api_activity", "detection_finding"]
# Profiles our events declare in metadata.profiles: `cloud` everywhere, plus `host` (which
# brings `actor`) on the classes that offer it (the IAM category and findings).
PROFILES = {"cloud"}
WITH_HOST = {"cloud", "host"}
CLASS_PROFILES = {c: WITH_HOST for c in ["authentication", "account_change", "group_management",
                                          "user_access", "detection_finding"]}
PATHS = {
    "authentication": "events/iam/authentication.json",
    "account_change": "events/iam/account_change.json",
    "group_management": "events/iam/group_management.json",
    "user_access": "events/iam/user_access.json",
    "iam": "events/iam/iam.json",
    "file_hosting": "events/application/file_hosting.json",
    "api_activity": "events/application/api.json",
    "application": "events/application/application.json",
    "detection_finding": "events/findings/detection_finding.json",
    "finding": "events/findings/finding.json",
    "base_event": "events/base_event.json",
}


def show(git_dir, tag, path):
    out = subprocess.run(["git", "-C", git_dir, "show", f"refs/tags/{tag}:{path}"],
                         check=True, capture_output=True).stdout
    return json.loads(out)


def main():
    git_dir = sys.argv[1]
    tag = sys.argv[2] if len(sys.argv) > 2 else "v1.1.0"
    dictionary = show(git_dir, tag, "dictionary.json")
    types = dictionary["types"]["attributes"]
    dict_attrs = dictionary["attributes"]
    categories = show(git_dir, tag, "categories.json")["attributes"]

    def base_kind(t):
        # string_t, integer_t, long_t, float_t, boolean_t, json_t, or a derived type.
        while t in types and "type" in types[t]:
            t = types[t]["type"]
        return {"string_t": "string", "integer_t": "integer", "long_t": "integer",
                "float_t": "number", "boolean_t": "boolean", "json_t": "any"}.get(t, t)

    def attrs_of(doc, profiles):
        """The attributes a schema file defines, with its $includes merged (file wins)."""
        merged = {}
        for inc in doc.get("attributes", {}).get("$include", []):
            if inc.startswith("profiles/") and inc[len("profiles/"):-len(".json")] not in profiles:
                continue
            for k, v in show(git_dir, tag, inc).get("attributes", {}).items():
                if k != "$include":
                    merged[k] = dict(v)
        for k, v in doc.get("attributes", {}).items():
            if k == "$include":
                continue
            merged[k] = {**merged.get(k, {}), **{a: b for a, b in v.items() if b is not None}}
        return merged

    def chain(load, name):
        docs = []
        while name and name != "object":
            doc = load(name)
            docs.append(doc)
            name = doc.get("extends")
        return list(reversed(docs))

    def resolve(docs, profiles):
        attrs, constraints = {}, {}
        for doc in docs:
            for k, v in attrs_of(doc, profiles).items():
                attrs[k] = {**attrs.get(k, {}), **{a: b for a, b in v.items() if b is not None}}
            constraints.update(doc.get("constraints", {}))
        return attrs, constraints

    def attr_type(name, spec):
        t = spec.get("type") or dict_attrs.get(name, {}).get("type")
        is_array = spec.get("is_array", dict_attrs.get(name, {}).get("is_array", False))
        if t == "object_t":
            t = spec.get("object_type") or dict_attrs[name].get("object_type")
        return t, bool(is_array)

    def walk(prefix, attrs, constraints, out, at_least, seen):
        if constraints.get("at_least_one"):
            at_least.append({"path": prefix or ".", "any_of": constraints["at_least_one"]})
        for name in sorted(attrs):
            spec = attrs[name]
            if spec.get("requirement") != "required":
                continue
            t, is_array = attr_type(name, spec)
            path = f"{prefix}.{name}" if prefix else name
            kind = base_kind(t) if t in types else "object"
            out.append({"path": path, "type": t, "kind": kind, "is_array": is_array})
            if kind == "object" and t not in seen:
                odocs = chain(lambda n: show(git_dir, tag, f"objects/{n}.json"), t)
                oattrs, ocons = resolve(odocs, set())
                walk(path + ("[]" if is_array else ""), oattrs, ocons, out, at_least, seen | {t})

    result = {
        "attribution": (f"Derived from the OCSF schema (https://github.com/ocsf/ocsf-schema, tag {tag}), "
                        "licensed under the Apache License 2.0, by ocsf/schema/derive.py."),
        "schema_version": tag.lstrip("v"),
        "classes": {},
    }
    for cls in CLASSES:
        docs = chain(lambda n: show(git_dir, tag, PATHS[n]), cls)
        profiles = CLASS_PROFILES.get(cls, PROFILES)
        attrs, cons = resolve(docs, profiles)
        category = next(d["category"] for d in reversed(docs) if "category" in d)
        class_uid = categories[category]["uid"] * 1000 + docs[-1]["uid"]
        required, at_least = [], []
        walk("", attrs, cons, required, at_least, set())
        activity = dict(dict_attrs["activity_id"].get("enum", {}))
        for d in docs:
            enum = d.get("attributes", {}).get("activity_id", {}).get("enum")
            if enum:
                activity.update(enum)
        result["classes"][str(class_uid)] = {
            "name": cls,
            "caption": docs[-1]["caption"],
            "category_uid": categories[category]["uid"],
            "profiles": sorted(profiles),
            "attributes": sorted(attrs),
            "required": required,
            "at_least_one": at_least,
            "activity_ids": sorted(int(k) for k in activity),
        }
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
