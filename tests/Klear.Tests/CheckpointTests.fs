module Klear.Tests.CheckpointTests

open System
open System.Diagnostics
open System.IO
open System.Text
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open Klear.Host.Model
open Klear.Host.Checkpoints
open Klear.Tests.ModelTestKit

let probe = longTensor [| 3L; 17L; 0L; 36L; 5L; 21L |] [| 1L; 6L |]

let logitsOf (m: Qwen3ForCausalLM) =
    use _ = torch.no_grad()
    use l = m.forward(CausalLMInput(probe))
    toArray l

let checkpointError (f: unit -> unit) =
    try f (); failtest "expected a CheckpointException" with :? CheckpointException as e -> e.Message

/// A safetensors file written byte by byte from the format's definition, independent of Klear's writer.
let handWritten (path: string) (header: string) (data: byte[]) =
    let h = Encoding.UTF8.GetBytes header
    use s = File.Create path
    s.Write(BitConverter.GetBytes(int64 h.Length), 0, 8)
    s.Write(h, 0, h.Length)
    s.Write(data, 0, data.Length)

/// Rewrites a saved single-file checkpoint with `edit` applied to its (name, tensor) list.
let rewrite (dir: string) (m: Qwen3ForCausalLM) (edit: (string * torch.Tensor) list -> (string * torch.Tensor) list) =
    let tensors = [ for struct (n, p) in m.named_parameters() -> n, (p :> torch.Tensor) ] |> edit
    SafeTensorsFile.Write(Path.Combine(dir, HfCheckpoint.SingleFile), ResizeArray(tensors |> List.map (fun (n, t) -> struct (n, t))), SafeTensorsDtype.F32) |> ignore

/// bench/model_bench.py, found upwards from the test binary (the repository's, not a copy).
let peerScript () =
    let rec up (d: DirectoryInfo | null) =
        match d with
        | null -> None
        | d when File.Exists(Path.Combine(d.FullName, "bench", "model_bench.py")) -> Some(Path.Combine(d.FullName, "bench", "model_bench.py"))
        | d -> up d.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

let parseLogits (json: string) =
    (JsonNode.Parse json |> nonNull).["logits"] |> nonNull |> fun n -> n.AsArray() |> Seq.map (fun row -> (nonNull row).AsArray() |> Seq.map (fun v -> (nonNull v).GetValue<float32>()) |> Array.ofSeq) |> Array.ofSeq

[<Tests>]
let tests =
    testSequenced <| testList "model checkpoints" [
        test "fp32 save then load gives identical logits, and the file holds exactly the HF keys" {
            use m = seededModel (gqaConfig ()) 21L
            let dir = tempDir "ckpt"
            HfCheckpoint.Save(m, dir)
            use loaded = HfCheckpoint.Load dir
            Expect.sequenceEqual (logitsOf loaded) (logitsOf m) "bit-identical logits"
            use f = SafeTensorsFile.Open(Path.Combine(dir, HfCheckpoint.SingleFile))
            Expect.equal f.Entries.Count 25 "2 layers × 11 + embed, final norm, lm_head"
            Expect.isTrue (f.Entries.ContainsKey "lm_head.weight") "untied head saved"
            Expect.equal (f.Entries.["model.layers.1.self_attn.k_proj.weight"].Shape) [| 32L; 32L |] "HF layout [out, in]"
            let config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json"))) |> nonNull
            Expect.equal ((config.["architectures"] |> nonNull).[0] |> nonNull |> string) "Qwen3ForCausalLM" "architectures"
            Expect.equal ((config.["model_type"] |> nonNull).ToString()) "qwen3" "model_type"
        }

        test "bf16 save then load equals the model with weights rounded to bf16 by libtorch" {
            use m = seededModel (gqaConfig ()) 22L
            let dir = tempDir "ckpt-bf16"
            HfCheckpoint.Save(m, dir, SafeTensorsDtype.BF16)
            use loaded = HfCheckpoint.Load dir
            use _ = torch.no_grad()
            for struct (_, p) in m.named_parameters() do
                use r = p.to_type(torch.bfloat16).to_type(torch.float32)
                p.copy_(r) |> ignore
            Expect.sequenceEqual (logitsOf loaded) (logitsOf m) "identical after rounding"
            let count = m.parameters() |> Seq.sumBy (fun p -> p.numel())
            let bytes = FileInfo(Path.Combine(dir, HfCheckpoint.SingleFile)).Length
            Expect.isTrue (bytes > 2L * count && bytes < 2L * count + 8192L) $"2 bytes per weight plus a header ({bytes} bytes, {count} weights)"
        }

        test "sharded save writes an index and loads back identically" {
            use m = seededModel (gqaConfig ()) 23L
            let dir = tempDir "ckpt-shards"
            HfCheckpoint.Save(m, dir, SafeTensorsDtype.F32, 8000L)
            let shards = Directory.GetFiles(dir, "model-*-of-*.safetensors")
            Expect.isGreaterThan shards.Length 2 "several shards"
            Expect.isFalse (File.Exists(Path.Combine(dir, HfCheckpoint.SingleFile))) "no single file"
            let index = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, HfCheckpoint.IndexFile))) |> nonNull
            Expect.equal ((index.["weight_map"] |> nonNull).AsObject().Count) 25 "every tensor mapped"
            use loaded = HfCheckpoint.Load dir
            Expect.sequenceEqual (logitsOf loaded) (logitsOf m) "identical logits"
        }

        test "a hand-written safetensors file (F32 and BF16) reads back" {
            let dir = tempDir "st"
            let path = Path.Combine(dir, "x.safetensors")
            let f32 = [| 1.5f; -2.0f; 0.25f; 3.0e-3f |] |> Array.collect BitConverter.GetBytes
            // bf16 of 1.0, -0.5, 3.0: the top 16 bits of their fp32 patterns.
            let bf16 = [| 0x3F80us; 0xBF00us; 0x4040us |] |> Array.collect BitConverter.GetBytes
            handWritten path """{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]},"__metadata__":{"format":"pt"}}""" (Array.append f32 bf16)
            use f = SafeTensorsFile.Open path
            use a = f.ReadFloat32 "a"
            use b = f.ReadFloat32 "b"
            Expect.equal a.shape [| 2L; 2L |] "shape"
            Expect.sequenceEqual (toArray a) [| 1.5f; -2.0f; 0.25f; 3.0e-3f |] "F32 values"
            Expect.sequenceEqual (toArray b) [| 1.0f; -0.5f; 3.0f |] "BF16 values"
        }

        test "a missing tensor is named" {
            use m = seededModel (gqaConfig ()) 24L
            let dir = tempDir "ckpt-missing"
            HfCheckpoint.Save(m, dir)
            rewrite dir m (List.filter (fun (n, _) -> n <> "model.layers.1.mlp.up_proj.weight"))
            let msg = checkpointError (fun () -> HfCheckpoint.Load dir |> ignore)
            Expect.stringContains msg "missing tensor 'model.layers.1.mlp.up_proj.weight'" "names the tensor"
        }

        test "a wrong shape is named with both shapes" {
            use m = seededModel (gqaConfig ()) 25L
            let dir = tempDir "ckpt-shape"
            HfCheckpoint.Save(m, dir)
            use wrong = torch.zeros(64L, 31L)
            rewrite dir m (List.map (fun (n, t) -> if n = "model.layers.0.mlp.gate_proj.weight" then n, wrong else n, t))
            let msg = checkpointError (fun () -> HfCheckpoint.Load dir |> ignore)
            Expect.stringContains msg "'model.layers.0.mlp.gate_proj.weight'" "names the tensor"
            Expect.stringContains msg "[64, 31]" "file shape"
            Expect.stringContains msg "[64, 32]" "model shape"
        }

        test "an unexpected tensor is named" {
            use m = seededModel (gqaConfig ()) 26L
            let dir = tempDir "ckpt-extra"
            HfCheckpoint.Save(m, dir)
            use extra = torch.zeros(3L)
            rewrite dir m (fun l -> l @ [ "model.layers.2.self_attn.q_norm.weight", extra ])
            let msg = checkpointError (fun () -> HfCheckpoint.Load dir |> ignore)
            Expect.stringContains msg "'model.layers.2.self_attn.q_norm.weight'" "names the tensor"
        }

        test "an unknown dtype is named with its tensor" {
            let dir = tempDir "st-dtype"
            let path = Path.Combine(dir, "x.safetensors")
            handWritten path """{"model.norm.weight":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}""" [| 1uy; 2uy; 3uy; 4uy |]
            let msg = checkpointError (fun () -> SafeTensorsFile.Open path |> ignore)
            Expect.stringContains msg "'model.norm.weight'" "names the tensor"
            Expect.stringContains msg "F8_E4M3" "names the dtype"
            handWritten path """{"model.norm.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,4]}}""" [| 1uy; 2uy; 3uy; 4uy |]
            let msg = checkpointError (fun () -> SafeTensorsFile.Open path |> ignore)
            Expect.stringContains msg "'model.norm.weight'" "a byte range that does not fit the shape names the tensor"
        }

        test "stop tokens come from generation_config.json, else from config.json" {
            use m = seededModel (gqaConfig ()) 29L
            let dir = tempDir "ckpt-eos"
            HfCheckpoint.Save(m, dir)
            Expect.isEmpty (HfCheckpoint.LoadStopTokenIds dir) "no eos_token_id anywhere"
            let config = File.ReadAllText(Path.Combine(dir, "config.json")).Replace("\"vocab_size\"", "\"eos_token_id\": 7, \"vocab_size\"")
            File.WriteAllText(Path.Combine(dir, "config.json"), config)
            Expect.sequenceEqual (HfCheckpoint.LoadStopTokenIds dir) [| 7 |] "config.json"
            File.WriteAllText(Path.Combine(dir, "generation_config.json"), """{"bos_token_id": 151643, "eos_token_id": [151645, 151643], "do_sample": true}""")
            Expect.sequenceEqual (HfCheckpoint.LoadStopTokenIds dir) [| 151645; 151643 |] "generation_config.json wins"
            use loaded = HfCheckpoint.Load dir
            Expect.sequenceEqual (logitsOf loaded) (logitsOf m) "extra keys in config.json do not disturb loading"
            let copy = tempDir "ckpt-companions"
            HfCheckpoint.Save(loaded, copy, SafeTensorsDtype.F32, 0L, dir)
            Expect.equal (File.ReadAllText(Path.Combine(copy, "generation_config.json"))) (File.ReadAllText(Path.Combine(dir, "generation_config.json"))) "companion files copied"
            Expect.sequenceEqual (HfCheckpoint.LoadStopTokenIds copy) [| 151645; 151643 |] "stop tokens travel with the checkpoint"
        }

        test "saved checkpoints give the same logits in the PyTorch peer (skipped without python3-torch)" {
            let script = peerScript ()
            let hasTorch = File.Exists "/usr/bin/python3" && ((Cli.runProcess "/usr/bin/python3" [ "-c"; "import torch" ]).ExitCode = 0)
            if script.IsNone || not hasTorch then skiptest "needs /usr/bin/python3 with torch (apt python3-torch) and bench/model_bench.py"
            for label, config, dtype in [ "gqa-f32", gqaConfig (), SafeTensorsDtype.F32; "tiny-bf16", Qwen3Config.Tiny(), SafeTensorsDtype.BF16 ] do
                use m = seededModel config 30L
                let dir = tempDir $"peer-{label}"
                HfCheckpoint.Save(m, dir, dtype, 20000L)
                use loaded = HfCheckpoint.Load dir
                let { Cli.ExitCode = code; Cli.Stdout = out; Cli.Stderr = err } = Cli.runProcess "/usr/bin/python3" [ script.Value; "--logits"; dir; "--input-ids"; "3,17,0,5,21,1" ]
                Expect.equal code 0 $"{label}: peer exit code ({err})"
                use l = loaded.forward(CausalLMInput(longTensor [| 3L; 17L; 0L; 5L; 21L; 1L |] [| 1L; 6L |]))
                Expect.isLessThan (maxAbsDiff (Array.concat (parseLogits out)) (toArray l)) 1e-4 $"{label}: |Klear - PyTorch|"
        }

        test "model logits CLI prints the model's logits for fp32, bf16 and tied checkpoints; bad input exits 2" {
            use m = seededModel (gqaConfig ()) 27L
            let dir = tempDir "cli"
            HfCheckpoint.Save(m, dir)
            let { Cli.ExitCode = code; Cli.Stdout = out; Cli.Stderr = err } = Cli.run [ "model"; "logits"; "--model"; dir; "--input-ids"; "3,17,0,36,5,21" ]
            Expect.equal code 0 $"exit code (stderr: {err})"
            let rows = parseLogits out
            Expect.equal rows.Length 6 "one row per position"
            Expect.equal rows.[0].Length 37 "vocabulary logits"
            Expect.isLessThan (maxAbsDiff (Array.concat rows) (logitsOf m)) 1e-6 "same logits as in-process"

            let tied = Qwen3Config.Tiny()
            use t = seededModel tied 28L
            let tiedDir = tempDir "cli-tied"
            HfCheckpoint.Save(t, tiedDir, SafeTensorsDtype.BF16)
            use f = SafeTensorsFile.Open(Path.Combine(tiedDir, HfCheckpoint.SingleFile))
            Expect.isFalse (f.Entries.ContainsKey "lm_head.weight") "tied: no lm_head.weight"
            Expect.equal f.Entries.["model.norm.weight"].Dtype SafeTensorsDtype.BF16 "bf16 on disk"
            let { Cli.ExitCode = code; Cli.Stdout = out; Cli.Stderr = err } = Cli.run [ "model"; "logits"; "--model"; tiedDir; "--input-ids"; "1,2,22" ]
            Expect.equal code 0 $"exit code (stderr: {err})"
            use loaded = HfCheckpoint.Load tiedDir
            use l = loaded.forward(CausalLMInput(longTensor [| 1L; 2L; 22L |] [| 1L; 3L |]))
            Expect.isLessThan (maxAbsDiff (Array.concat (parseLogits out)) (toArray l)) 1e-6 "tied bf16 logits"

            let { Cli.ExitCode = code; Cli.Stderr = err } = Cli.run [ "model"; "logits"; "--model"; dir; "--input-ids"; "3,99" ]
            Expect.equal code 2 "token outside the vocabulary"
            Expect.stringContains err "99" "names the token"
            let { Cli.ExitCode = code } = Cli.run [ "model"; "logits"; "--model"; $"{dir}/nope"; "--input-ids"; "3" ]
            Expect.equal code 2 "missing directory"
            File.Delete(Path.Combine(dir, "config.json"))
            let { Cli.ExitCode = code; Cli.Stderr = err } = Cli.run [ "model"; "logits"; "--model"; dir; "--input-ids"; "3" ]
            Expect.equal code 2 "missing config.json"
            Expect.stringContains err "config.json" "names the file"
        }
    ]
