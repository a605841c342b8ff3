// Renders every template x conversation pair with @huggingface/jinja and writes the golden outputs that
// tests/SeekSharp.Tests/Chat/ChatTemplateGoldenTests.cs compares against byte for byte.
//
//   cd tests/SeekSharp.Tests/TestData/chat-templates && npm install && node generate.mjs
//
// Output: golden/<template>__<conversation>.txt (the rendered prompt), or .error (the render failed; the file holds
// the error message and the C# renderer must fail too).
import { Template } from "@huggingface/jinja";
import { readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const templates = JSON.parse(readFileSync(join(here, "templates.json"), "utf8"));
const conversations = JSON.parse(readFileSync(join(here, "conversations.json"), "utf8"));
const outDir = join(here, "golden");
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

let ok = 0;
let errors = 0;
for (const [name, spec] of Object.entries(templates)) {
	const template = new Template(readFileSync(join(here, spec.file), "utf8"));
	for (const conv of conversations) {
		// The variables transformers' apply_chat_template passes: tools is None when absent, unset special tokens
		// are left undefined.
		const vars = {
			messages: conv.messages,
			tools: conv.tools ?? null,
			add_generation_prompt: conv.add_generation_prompt,
		};
		if (spec.bos_token != null) vars.bos_token = spec.bos_token;
		if (spec.eos_token != null) vars.eos_token = spec.eos_token;
		Object.assign(vars, spec.extra ?? {}, conv.extra ?? {});
		const base = join(outDir, `${name}__${conv.name}`);
		let output;
		try {
			output = template.render(vars);
		} catch (e) {
			writeFileSync(`${base}.error`, `${e.message}\n`);
			errors++;
			continue;
		}
		// JavaScript artefacts: Python's Jinja raises a TypeError where the JS port stringifies an object.
		if (/\[object (Map|Object)\]/.test(output)) {
			writeFileSync(`${base}.error`, "JS artefact: @huggingface/jinja concatenated an object ([object Map]); Python Jinja raises a TypeError\n");
			errors++;
			continue;
		}
		writeFileSync(`${base}.txt`, output);
		ok++;
	}
}
console.log(`${ok} outputs, ${errors} expected errors`);
