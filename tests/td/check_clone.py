"""check_clone.py BASE OUT [copy_tags] — checks with Python's json module that OUT (a
RegisterTaskDefinition body written by td_clone) parses and equals the task definition in
BASE: the same members in the same order minus the output-only ones, every value equal
except container images, tags only when asked. Exit 0 and prints "ok", else says why."""
import collections, json, sys

OUTPUT_ONLY = {"taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
               "registeredAt", "registeredBy", "deregisteredAt", "deleteRequestedAt"}


def strict(x):
    raise ValueError("not JSON: " + x)


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    return json.loads(raw.decode("utf-8"), object_pairs_hook=collections.OrderedDict,
                      parse_constant=strict)


def main():
    base, out = load(sys.argv[1]), load(sys.argv[2])
    copy_tags = len(sys.argv) > 3 and sys.argv[3] == "1"
    td = base.get("taskDefinition", base)
    tags = base.get("tags")
    want = [k for k in td if k not in OUTPUT_ONLY and k != "tags"]
    if copy_tags and tags:
        want.append("tags")
    if list(out.keys()) != want:
        sys.exit("member order differs:\n%s\n%s" % (list(out.keys()), want))
    for k in want:
        if k == "tags":
            if out[k] != tags:
                sys.exit("tags differ")
        elif k == "containerDefinitions":
            for a, b in zip(out[k], td[k]):
                a = dict(a); b = dict(b)
                a.pop("image", None); b.pop("image", None)
                if a != b:
                    sys.exit("container %s differs" % b.get("name"))
            if len(out[k]) != len(td[k]):
                sys.exit("container count differs")
        elif out[k] != td[k]:
            sys.exit("member %s differs" % k)
    print("ok")


main()
