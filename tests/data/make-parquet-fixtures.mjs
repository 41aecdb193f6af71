// Writes the parquet fixtures in this folder with a real Arrow writer (arrow-rs through parquet-wasm), laid out as
// pandas/pyarrow write verl datasets: data_source, prompt (list of {role, content}), ability,
// reward_model {ground_truth, style}, extra_info (a struct whose fields differ between datasets).
//
//   mkdir /tmp/fixtures && cd /tmp/fixtures && npm install parquet-wasm@0.8.0 apache-arrow@21.2.0
//   node /path/to/tests/data/make-parquet-fixtures.mjs /path/to/tests/data
//
// Beside verl-arrow.parquet and verl-code.parquet it writes NAME.expected.jsonl: per row, the object
// `klear data inspect --json` must print ({data_source, prompt, ground_truth, extra_info}), from the values written here.
// verl-code.jsonl holds the same rows as verl-code.parquet, one JSON object a line, as a JSON Lines dataset.
// The test suite reads the written files only; it never needs node.
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(join(process.cwd(), "package.json"));
const arrow = require("apache-arrow");
const { Table, writeParquet, WriterPropertiesBuilder, Compression } = require("parquet-wasm");

const out = process.argv[2] ?? ".";
const { Field, Struct, List, Utf8, Int64, Float64 } = arrow;
const utf8 = (name) => new Field(name, new Utf8(), true);
const message = new Struct([utf8("role"), utf8("content")]);
const prompt = new Field("prompt", new List(new Field("element", message, true)), true);
const rewardModel = new Field("reward_model", new Struct([utf8("ground_truth"), utf8("style")]), true);

function write(file, fields, columns) {
  const schema = new arrow.Schema(fields);
  const vectors = Object.fromEntries(fields.map((f) => [f.name, arrow.vectorFromArray(columns[f.name], f.type)]));
  const table = new arrow.Table(schema, vectors);
  const wasmTable = Table.fromIPCStream(arrow.tableToIPC(table, "stream"));
  // Snappy, as pyarrow writes by default.
  const props = new WriterPropertiesBuilder().setCompression(Compression.SNAPPY).build();
  writeFileSync(join(out, file), writeParquet(wasmTable, props));
  console.log(`wrote ${join(out, file)}`);
}

// JSON of the values written (Int64 columns are BigInt here), and the rows `klear data inspect --json` prints.
const json = (value) => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? Number(v) : v));
function writeExpected(file, columns) {
  const rows = columns.data_source.map((dataSource, i) => ({
    data_source: dataSource,
    prompt: columns.prompt[i],
    ground_truth: columns.reward_model[i].ground_truth,
    extra_info: columns.extra_info?.[i] ?? null,
  }));
  writeFileSync(join(out, file), rows.map(json).join("\n") + "\n");
  console.log(`wrote ${join(out, file)}`);
}

// verl-arrow.parquet: every shape an Arrow reader must give back as written. tags is an empty list in row 1, a list
// in row 2 and null in row 3; answer is null in row 1; meta is a nested struct, with a null member in row 2 and null
// as a whole in row 3.
const meta = new Struct([new Field("level", new Int64(), true), utf8("source")]);
const extraInfo = new Struct([
  new Field("index", new Int64(), true),
  utf8("split"),
  new Field("tags", new List(new Field("element", new Utf8(), true)), true),
  utf8("answer"),
  new Field("difficulty", new Float64(), true),
  new Field("meta", meta, true),
]);
const verlArrow = {
    data_source: ["openai/gsm8k", "openai/gsm8k", "klear/arithmetic"],
    prompt: [
      [{ role: "user", content: "What is 2+2? Let's think step by step." }],
      [{ role: "system", content: "Reason, then answer in \\boxed{}." }, { role: "user", content: "Solve 2x = 6 — for x." }],
      [{ role: "user", content: "3+4=" }],
    ],
    ability: ["math", "math", "arithmetic"],
    reward_model: [
      { ground_truth: "4", style: "rule" },
      { ground_truth: "3", style: "rule" },
      { ground_truth: "7", style: "rule" },
    ],
    extra_info: [
      { index: 0n, split: "train", tags: [], answer: null, difficulty: 0.25, meta: { level: 1n, source: "gsm8k" } },
      { index: 1n, split: "test", tags: ["algebra", "easy"], answer: "x = 3", difficulty: 0.5, meta: { level: 3n, source: null } },
      { index: 2n, split: "train", tags: null, answer: "7", difficulty: 1.0, meta: null },
    ],
  };
write("verl-arrow.parquet",
  [utf8("data_source"), prompt, utf8("ability"), rewardModel, new Field("extra_info", extraInfo, true)], verlArrow);
writeExpected("verl-arrow.expected.jsonl", verlArrow);

// other-writer.parquet: two rows whose extra_info struct has fields the reader has never heard of.
const plainExtra = new Struct([utf8("split"), new Field("index", new Int64(), true), new Field("difficulty", new Float64(), true)]);
const twoPrompts = [[{ role: "user", content: "2+2" }], [{ role: "user", content: "2+2" }]];
write("other-writer.parquet",
  [utf8("data_source"), prompt, rewardModel, new Field("extra_info", plainExtra, true)],
  {
    data_source: ["math", "math"],
    prompt: twoPrompts,
    reward_model: [{ ground_truth: "4", style: "rule" }, { ground_truth: "4", style: "rule" }],
    extra_info: [{ split: "train", index: 0n, difficulty: 0.5 }, { split: "test", index: 7n, difficulty: 0.25 }],
  });

// missing-ground-truth.parquet: row 2's reward_model.ground_truth is null, an error the reader must name.
write("missing-ground-truth.parquet",
  [utf8("data_source"), prompt, rewardModel],
  {
    data_source: ["math", "math"],
    prompt: twoPrompts,
    reward_model: [{ ground_truth: "4", style: "rule" }, { ground_truth: null, style: "rule" }],
  });

// arrow-types.parquet: two verl rows whose extra_info holds one member per other Arrow type a dataset may carry, a
// value in row 1 and null in row 2. arrow-rs stores the Arrow schema in the file, so an Arrow reader gets back the
// dictionary, large, map and timestamp types.
const { Dictionary, Map_, LargeUtf8, Binary, Int8, Int32, Uint32, Float32, Bool, TimestampMillisecond, DateDay } = arrow;
const typed = new Struct([
  new Field("category", new Dictionary(new Utf8(), new Int32()), true),
  new Field("large_text", new LargeUtf8(), true),
  new Field("bytes", new Binary(), true),
  new Field("flag", new Bool(), true),
  new Field("small", new Int8(), true),
  new Field("count", new Uint32(), true),
  new Field("ratio", new Float32(), true),
  new Field("scores", new Map_(new Field("entries", new Struct([new Field("key", new Utf8(), false), new Field("value", new Float64(), true)]), false)), true),
  new Field("created", new TimestampMillisecond("UTC"), true),
  new Field("day", new DateDay(), true),
]);
write("arrow-types.parquet",
  [utf8("data_source"), prompt, rewardModel, new Field("extra_info", typed, true)],
  {
    data_source: ["math", "math"],
    prompt: twoPrompts,
    reward_model: [{ ground_truth: "4", style: "rule" }, { ground_truth: "4", style: "rule" }],
    extra_info: [
      {
        category: "algebra", large_text: "long text", bytes: new Uint8Array([1, 2, 255]), flag: true, small: -5,
        count: 4000000000, ratio: 0.5, scores: new Map([["a", 1.5], ["b", null]]),
        created: Date.UTC(2025, 0, 2, 3, 4, 5), day: Date.UTC(2025, 0, 2),
      },
      {
        category: null, large_text: null, bytes: null, flag: null, small: null, count: null, ratio: null, scores: null,
        created: null, day: null,
      },
    ],
  });

// verl-code.parquet: a code dataset as verl's preprocessing writes one: ability "code", the tests as a JSON string in
// reward_model.ground_truth (stdin/stdout inputs/outputs, or functional asserts; optional timeout and max_test_cases),
// and an extra_info with a list, a nested struct and nulls at each level. Row 2's prompt has tabs, accents and a literal
// <think>; row 4 has an empty system message and an empty stdin.
const limits = new Struct([new Field("time_s", new Float64(), true), new Field("memory_mb", new Int64(), true)]);
const codeExtra = new Struct([
  utf8("split"),
  new Field("index", new Int64(), true),
  utf8("difficulty"),
  new Field("tags", new List(new Field("element", new Utf8(), true)), true),
  new Field("limits", limits, true),
  utf8("reference"),
]);
const verlCode = {
  data_source: ["livecodebench", "taco", "primeintellect", "codeforces"],
  prompt: [
    [{ role: "system", content: "Write a Python program that reads stdin and writes stdout." },
     { role: "user", content: "Read n and print n*(n+1)/2.\n\nInput: one integer n (1 <= n <= 10^9)." }],
    [{ role: "user", content: "Écris un programme : pour chaque ligne « a b », affiche a+b.\n\tExemple ✓ — <think> n'est pas une balise ici." }],
    [{ role: "user", content: "Define f(x) returning x squared." }],
    [{ role: "system", content: "" }, { role: "user", content: "Print 0." }],
  ],
  ability: ["code", "code", "code", "code"],
  reward_model: [
    { ground_truth: JSON.stringify({ inputs: ["3\n", "10\n"], outputs: ["6\n", "55\n"] }), style: "rule" },
    { ground_truth: JSON.stringify({ inputs: ["1 2\n3 4\n", "-5 5\n"], outputs: ["3\n7\n", "0\n"], timeout: 5, max_test_cases: 1 }), style: "rule" },
    { ground_truth: JSON.stringify({ functional: "assert f(2) == 4\nassert f(-3) == 9" }), style: "rule" },
    { ground_truth: JSON.stringify({ inputs: [""], outputs: ["0\n"] }), style: "rule" },
  ],
  extra_info: [
    { split: "train", index: 0n, difficulty: "easy", tags: ["math", "implementation"], limits: { time_s: 2.0, memory_mb: 256n }, reference: null },
    { split: "test", index: 1n, difficulty: null, tags: [], limits: { time_s: null, memory_mb: 512n }, reference: "import sys\nfor l in sys.stdin: a, b = map(int, l.split()); print(a + b)" },
    { split: "train", index: 2n, difficulty: "medium", tags: null, limits: null, reference: null },
    null,
  ],
};
write("verl-code.parquet",
  [utf8("data_source"), prompt, utf8("ability"), rewardModel, new Field("extra_info", codeExtra, true)], verlCode);
writeExpected("verl-code.expected.jsonl", verlCode);
writeFileSync(join(out, "verl-code.jsonl"), verlCode.data_source.map((dataSource, i) => json({
  data_source: dataSource, prompt: verlCode.prompt[i], ability: verlCode.ability[i], reward_model: verlCode.reward_model[i],
  extra_info: verlCode.extra_info[i],
})).join("\n") + "\n");
console.log(`wrote ${join(out, "verl-code.jsonl")}`);

// malformed-prompt.parquet: row 2's second message has a null content, an error the reader must name.
write("malformed-prompt.parquet",
  [utf8("data_source"), prompt, rewardModel],
  {
    data_source: ["math", "math", "math"],
    prompt: [[{ role: "user", content: "1+1" }], [{ role: "system", content: "Be brief." }, { role: "user", content: null }],
             [{ role: "user", content: "2+2" }]],
    reward_model: [{ ground_truth: "2", style: "rule" }, { ground_truth: "3", style: "rule" }, { ground_truth: "4", style: "rule" }],
  });

// malformed-code-tests.parquet: row 2's tests (a JSON string, as verl stores them) have two inputs but one output.
write("malformed-code-tests.parquet",
  [utf8("data_source"), prompt, rewardModel],
  {
    data_source: ["taco", "taco"],
    prompt: [[{ role: "user", content: "Echo the input." }], [{ role: "user", content: "Double n." }]],
    reward_model: [
      { ground_truth: JSON.stringify({ inputs: ["a\n"], outputs: ["a\n"] }), style: "rule" },
      { ground_truth: JSON.stringify({ inputs: ["1\n", "2\n"], outputs: ["2\n"] }), style: "rule" },
    ],
  });
