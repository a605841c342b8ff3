"""Checks unit-cases.json against Python Jinja2 configured as transformers does (expected outputs are Python's).

    python3 check_unit_cases.py
"""
import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols
def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
cases = json.load(open(sys.argv[1] if len(sys.argv) > 1 else __import__("os").path.join(__import__("os").path.dirname(__import__("os").path.abspath(__file__)), "unit-cases.json"), encoding="utf-8"))
bad = 0
for c in cases:
    try:
        out = env.from_string(c["t"]).render(**c.get("v", {}))
    except Exception as e:
        out = "ERROR: " + type(e).__name__ + ": " + str(e)
    if out != c["e"]:
        bad += 1
        print("MISMATCH", json.dumps(c["t"]), "python:", json.dumps(out), "expected:", json.dumps(c["e"]))
print(len(cases), "cases,", bad, "mismatches")
