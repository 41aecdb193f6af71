// Writes the parquet fixtures in this folder with a real Arrow writer (arrow-rs through parquet-wasm), laid out as
// pandas/pyarrow write verl datasets: data_source, prompt (list of {role, content}), ability,
// reward_model {ground_truth, style}, extra_info (a struct whose fields differ between datasets).
//
//   mkdir /tmp/fixtures && cd /tmp/fixtures && npm install parquet-wasm@0.8.0 apache-arrow@21.2.0
//   node /path/to/tests/data/make-parquet-fixtures.mjs /path/to/tests/data
//
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
write("verl-arrow.parquet",
  [utf8("data_source"), prompt, utf8("ability"), rewardModel, new Field("extra_info", extraInfo, true)],
  {
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
  });

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
