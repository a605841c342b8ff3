"""Cross-check: renders the same template x conversation pairs with Python's Jinja2, configured exactly as
transformers' apply_chat_template configures it (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
loopcontrols, its tojson, raise_exception and strftime_now). Pairs where Python and @huggingface/jinja disagree are
written to golden-python/ (the C# renderer follows Python there); run after generate.mjs:

    python3 generate_python.py
"""
import json
import os
import shutil
from datetime import datetime

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

here = os.path.dirname(os.path.abspath(__file__))


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now

templates = json.load(open(os.path.join(here, "templates.json"), encoding="utf-8"))
conversations = json.load(open(os.path.join(here, "conversations.json"), encoding="utf-8"))
out_dir = os.path.join(here, "golden-python")
shutil.rmtree(out_dir, ignore_errors=True)
os.makedirs(out_dir)

same = differ = 0
for name, spec in templates.items():
    source = open(os.path.join(here, spec["file"]), encoding="utf-8", newline="").read()
    template = env.from_string(source)
    for conv in conversations:
        kwargs = dict(messages=conv["messages"], tools=conv.get("tools"), add_generation_prompt=conv["add_generation_prompt"])
        if spec.get("bos_token") is not None:
            kwargs["bos_token"] = spec["bos_token"]
        if spec.get("eos_token") is not None:
            kwargs["eos_token"] = spec["eos_token"]
        kwargs.update(spec.get("extra", {}))
        kwargs.update(conv.get("extra", {}))
        base = os.path.join(here, "golden", f"{name}__{conv['name']}")
        try:
            output, error = template.render(**kwargs), None
        except Exception as e:  # noqa: BLE001 - any failure is an expected-error golden
            output, error = None, f"{type(e).__name__}: {e}"
        hf_error = os.path.exists(base + ".error")
        hf_output = None if hf_error else open(base + ".txt", encoding="utf-8", newline="").read()
        if (error is not None) == hf_error and (error is not None or output == hf_output):
            same += 1
            continue
        differ += 1
        target = os.path.join(out_dir, f"{name}__{conv['name']}")
        if error is not None:
            open(target + ".error", "w", encoding="utf-8", newline="").write(error + "\n")
        else:
            open(target + ".txt", "w", encoding="utf-8", newline="").write(output)
        print(f"differs from @huggingface/jinja: {name} x {conv['name']}" + (f" (Python: {error})" if error else ""))
print(f"{same} pairs agree, {differ} differ")
