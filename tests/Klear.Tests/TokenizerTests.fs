module Klear.Tests.TokenizerTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open Klear.Host.Tokenization

/// GPT-2's byte-to-character table (printable bytes map to themselves, the rest to 256 + n), from its definition.
let byteChar =
    let printable b = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)
    let mutable n = 0
    Array.init 256 (fun b -> if printable b then char b else (let c = char (256 + n) in n <- n + 1; c))

/// A minimal Qwen-style tokenizer.json: byte-level pre-tokenizer and decoder, 256 byte tokens (id = byte value), four
/// merges giving "he", "ll", "hell", "Ġw" (ids 256-259), and Qwen's special tokens from id 260.
let specials = [ "<|endoftext|>"; "<|im_start|>"; "<|im_end|>"; "<think>"; "</think>" ]
let writeTokenizerJson (dir: string) =
    let vocab = JsonObject()
    for b in 0 .. 255 do vocab.[string byteChar.[b]] <- JsonValue.Create b
    for i, t in List.indexed [ "he"; "ll"; "hell"; "\u0120w" ] do vocab.[t] <- JsonValue.Create(256 + i)
    let added = JsonArray()
    for i, t in List.indexed specials do
        added.Add(JsonObject(dict [ "id", JsonValue.Create(260 + i) :> JsonNode; "content", JsonValue.Create t; "single_word", JsonValue.Create false
                                    "lstrip", JsonValue.Create false; "rstrip", JsonValue.Create false; "normalized", JsonValue.Create false
                                    "special", JsonValue.Create(not (t.Contains "think")) ]))
    let byteLevel () = JsonObject(dict [ "type", JsonValue.Create "ByteLevel" :> JsonNode; "add_prefix_space", JsonValue.Create false
                                         "trim_offsets", JsonValue.Create false; "use_regex", JsonValue.Create true ])
    let model = JsonObject(dict [ "type", JsonValue.Create "BPE" :> JsonNode; "dropout", null; "unk_token", null
                                  "continuing_subword_prefix", JsonValue.Create ""; "end_of_word_suffix", JsonValue.Create ""
                                  "fuse_unk", JsonValue.Create false; "byte_fallback", JsonValue.Create false; "vocab", vocab
                                  "merges", JsonArray([| "h e"; "l l"; "he ll"; "\u0120 w" |] |> Array.map (fun m -> JsonValue.Create m :> JsonNode)) ])
    let root = JsonObject(dict [ "version", JsonValue.Create "1.0" :> JsonNode; "truncation", null; "padding", null; "added_tokens", added
                                 "normalizer", JsonObject(dict [ "type", JsonValue.Create "NFC" :> JsonNode ]); "pre_tokenizer", byteLevel ()
                                 "post_processor", byteLevel (); "decoder", byteLevel (); "model", model ])
    let path = Path.Combine(dir, "tokenizer.json")
    File.WriteAllText(path, root.ToJsonString())
    path

let hf () = HfTokenizer.Load(writeTokenizerJson (Klear.Tests.ModelTestKit.tempDir "tok"))

[<Tests>]
let tests =
    testList "model tokenizers" [
        test "byte-level BPE applies the merges in rank order and maps bytes through GPT-2's table" {
            use t = hf ()
            // "hello" → h e l l o → he, ll → hell + o; " world" → Ġw o r l d. Bytes: o = 111, r = 114, l = 108, d = 100.
            Expect.sequenceEqual (t.Encode "hello world") [| 258; 111; 259; 111; 114; 108; 100 |] "ids"
            Expect.equal (t.Decode [| 258; 111; 259; 111; 114; 108; 100 |]) "hello world" "decode"
            Expect.equal t.VocabSize 265 "256 bytes + 4 merges + 5 added"
        }

        test "special tokens in the text become single ids; non-ASCII text round-trips" {
            use t = hf ()
            let ids = t.Encode "<|im_start|>user\nhi<|im_end|>"
            // \n is byte 10; 'u' 117 's' 115 'e' 101 'r' 114 'h' 104 'i' 105.
            Expect.sequenceEqual ids [| 261; 117; 115; 101; 114; 10; 104; 105; 262 |] "ids"
            Expect.equal (t.TokenId "<|im_end|>") (Nullable 262) "special id from added_tokens"
            Expect.equal (t.TokenId "<think>") (Nullable 263) "think token"
            Expect.isFalse (t.TokenId("<nope>").HasValue) "unknown spelling"
            let text = "héllo ✓ <think>x</think> 42"
            Expect.equal (t.Decode(t.Encode text)) text "round trip keeps specials and UTF-8"
        }

        test "a missing or malformed tokenizer.json is a clear error" {
            let dir = Klear.Tests.ModelTestKit.tempDir "tok-bad"
            Expect.throwsT<FileNotFoundException> (fun () -> HfTokenizer.Load dir |> ignore) "missing file"
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), "{ not json")
            Expect.throwsT<InvalidDataException> (fun () -> HfTokenizer.Load dir |> ignore) "malformed"
        }

        test "the arithmetic character tokenizer has the quickstart's 23 tokens and splits by longest match" {
            let t = CharTokenizer.Arithmetic()
            Expect.equal t.VocabSize 23 "vocabulary"
            let text = "Q:37+48-12=<think>37+48=85;85-12=73</think>\\boxed{73}"
            let ids = t.Encode text
            Expect.equal (t.Decode ids) text "round trip"
            Expect.equal ids.Length 34 "11 + <think> + 17 + </think> + \\boxed{ + 2 + }"
            Expect.equal ids.[11] (t.TokenId "<think>").Value "<think> is one token"
            Expect.equal (t.Encode "\\boxed{7}") [| t.TokenId("\\boxed{").Value; t.TokenId("7").Value; t.TokenId("}").Value |] "\\boxed{ is one token"
            Expect.equal (t.TokenId CharTokenizer.Pad) (Nullable 0) "PAD = 0"
            let msg = try t.Encode "1+x" |> ignore; "" with :? ArgumentException as e -> e.Message
            Expect.stringContains msg "'x' at position 2" "unknown character named"
        }

        test "Qwen3 chat format: system, user, generation prompt, thinking on and off" {
            let msgs = [| ChatMessage("system", "Be brief."); ChatMessage("user", "2+2?") |]
            Expect.equal (Qwen3ChatTemplate.Render msgs)
                "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n" "thinking on"
            Expect.equal (Qwen3ChatTemplate.Render(msgs, true, false))
                "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n" "thinking off"
        }

        test "Qwen3 chat format drops the reasoning of turns before the last user message and keeps it after" {
            let msgs = [| ChatMessage("user", "a"); ChatMessage("assistant", "<think>\nr1\n</think>\n\nA1")
                          ChatMessage("user", "b"); ChatMessage("assistant", "<think>r2</think>A2") |]
            Expect.equal (Qwen3ChatTemplate.Render(msgs, false))
                ("<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n" +
                 "<|im_start|>user\nb<|im_end|>\n<|im_start|>assistant\n<think>\nr2\n</think>\n\nA2<|im_end|>\n") "history"
            let struct (thinking, answer) = Qwen3ChatTemplate.SplitThinking "<think>5+5=10</think>\\boxed{10}<|im_end|>"
            Expect.equal thinking "5+5=10" "reasoning"
            Expect.equal answer "\\boxed{10}" "answer without <|im_end|>"
            let struct (none, all) = Qwen3ChatTemplate.SplitThinking "no tags"
            Expect.isNull none "no </think>: no reasoning"
            Expect.equal all "no tags" "whole text is the answer"
        }
    ]
