module Klear.Tests.SamplerTests

open System
open Expecto
open TorchSharp
open Klear.Host.Model
open Klear.Host.Rollout
open Klear.Tests.ModelTestKit

let prompts = [| [| 5; 6; 7; 8; 9 |]; [| 1; 2 |]; [| 30; 31; 32 |] |]

let leftPadded () =
    let p = prompts |> Array.map Array.length |> Array.max
    let ids = prompts |> Array.collect (fun x -> Array.append (Array.zeroCreate (p - x.Length)) (x |> Array.map int64))
    let mask = prompts |> Array.collect (fun x -> Array.append (Array.zeroCreate (p - x.Length)) (Array.create x.Length 1L))
    longTensor ids [| int64 prompts.Length; int64 p |], longTensor mask [| int64 prompts.Length; int64 p |]

let lastLogits (t: torch.Tensor) = t.select(1, -1L)

/// The distribution SampleNext should draw from, written from the definitions: softmax(logits / T), keep the K most
/// likely, then the most likely tokens until their mass reaches P (the one crossing P included), renormalised.
let renormalised (logits: float[]) (temperature: float) (topK: int) (topP: float) =
    let scaled = logits |> Array.map (fun l -> l / temperature)
    let order = Array.init logits.Length id |> Array.sortBy (fun i -> -scaled.[i])
    let kept = if topK > 0 then Array.truncate topK order else order
    let softmax (idx: int[]) =
        let m = idx |> Array.map (fun i -> scaled.[i]) |> Array.max
        let e = idx |> Array.map (fun i -> exp (scaled.[i] - m))
        let z = Array.sum e
        Array.map2 (fun i x -> i, x / z) idx e
    let pk = softmax kept
    let mutable before = 0.0
    let nucleus = [| for i, p in pk do
                       if before < topP then
                           before <- before + p
                           yield i |]
    softmax nucleus |> Map.ofArray

/// Upper 0.1% points of the chi-square distribution, by degrees of freedom.
let chi2Critical = [| nan; 10.83; 13.82; 16.27; 18.47; 20.52; 22.46; 24.32; 26.12; 27.88 |]

let generateSeq (m: Qwen3ForCausalLM) (options: SamplingOptions) (useCache: bool) (seeds: int64 list option) =
    let seedList = seeds |> Option.map (fun s -> ResizeArray s :> Collections.Generic.IReadOnlyList<int64>) |> Option.toObj
    Sampler(m).Generate(prompts |> Array.map id, options, seedList, useCache)

[<Tests>]
let tests =
    testSequenced <| testList "model sampler" [
        test "KV-cache decoding gives the logits of full recomputation at every step (left-padded batch)" {
            use m = seededModel (gqaConfig ()) 31L
            use _ = torch.no_grad()
            let ids, mask = leftPadded ()
            let steps = 8
            use cache = new KvCache(2, 3L, 2, 16, int ids.shape.[1] + steps)
            let mutable allIds = ids
            let mutable allMask = mask
            use prefill = m.forward(CausalLMInput(ids, mask, Cache = cache))
            use fullPrefill = m.forward(CausalLMInput(ids, mask))
            Expect.isLessThan (maxAbsDiff (toArray prefill) (toArray fullPrefill)) 1e-5 "prefill, every position"
            let mutable next = prefill.select(1, -1L).argmax(-1L, keepdim = true)
            for step in 1 .. steps do
                allIds <- torch.cat([| allIds; next |], 1L)
                allMask <- torch.cat([| allMask; torch.ones([| 3L; 1L |], torch.int64) |], 1L)
                use cached = m.forward(CausalLMInput(next, allMask, Cache = cache))
                use full = m.forward(CausalLMInput(allIds, allMask))
                Expect.equal cache.Length (int allIds.shape.[1]) "cache holds every token"
                Expect.isLessThan (maxAbsDiff (toArray (lastLogits cached)) (toArray (lastLogits full))) 1e-5 $"step {step}"
                next <- cached.select(1, -1L).argmax(-1L, keepdim = true)
        }

        test "greedy output is identical with and without the cache, and equals each prompt decoded alone" {
            use m = seededModel (gqaConfig ()) 32L
            let options = SamplingOptions(Temperature = 0.0, MaxNewTokens = 12)
            let cached = generateSeq m options true None
            let full = generateSeq m options false None
            Expect.equal cached.Tokens full.Tokens "same tokens"
            Expect.isLessThan (maxAbsDiff (Array.concat cached.LogProbs) (Array.concat full.LogProbs)) 1e-5 "same log-probs"
            use _ = torch.no_grad()
            for i, p in Array.indexed prompts do
                let mutable seq = p |> Array.map int64
                let alone = ResizeArray()
                for _ in 1 .. 12 do
                    use logits = m.forward(CausalLMInput(longTensor seq [| 1L; int64 seq.Length |]))
                    let next = (toArray (logits.select(1, -1L).squeeze(0L))) |> Array.mapi (fun j v -> j, v) |> Array.maxBy snd |> fst
                    alone.Add next
                    seq <- Array.append seq [| int64 next |]
                Expect.sequenceEqual cached.Tokens.[i] alone $"prompt {i}"
        }

        test "same seed gives the same samples; a request's sample does not depend on its batch" {
            use m = seededModel (gqaConfig ()) 33L
            let options = SamplingOptions(Temperature = 1.0, TopP = 0.95, MaxNewTokens = 10, Seed = 5L)
            let a = generateSeq m options true None
            let b = generateSeq m options true None
            Expect.equal a.Tokens b.Tokens "same seed"
            let c = generateSeq m (SamplingOptions(Temperature = 1.0, TopP = 0.95, MaxNewTokens = 10, Seed = 6L)) true None
            Expect.notEqual a.Tokens c.Tokens "another seed"
            let alone = Sampler(m).Generate([| prompts.[1] |], options, ResizeArray [ 6L ], true)
            Expect.sequenceEqual alone.Tokens.[0] a.Tokens.[1] "request 1 (seed 5 + 1) alone, unpadded"
        }

        test "top-k / top-p sampling frequencies match the renormalised distribution (chi-square, p = 0.001)" {
            let logits = [| 2.0; 1.5; 1.4; 0.3; 0.0; -0.2; -1.0; -1.1; -2.0; 0.9 |]
            let n = 20000
            for temperature, topK, topP in [ 1.0, 0, 1.0; 0.8, 6, 1.0; 1.0, 0, 0.8; 1.3, 7, 0.9 ] do
                let options = SamplingOptions(Temperature = temperature, TopK = topK, TopP = topP)
                use g = new torch.Generator(99UL)
                use u = torch.rand(int64 n, generator = g)
                use l = torch.tensor(logits |> Array.map float32).unsqueeze(0L).expand(int64 n, 10L)
                let struct (tokens, lps) = Sampler.SampleNext(l, options, u)
                let drawn = tokens.data<int64>().ToArray()
                let drawnLp = toArray lps
                let expected = renormalised logits temperature topK topP
                let counts = drawn |> Array.countBy int |> Map.ofArray
                for KeyValue(tok, c) in counts do
                    Expect.isTrue (expected.ContainsKey tok) $"T={temperature} k={topK} p={topP}: token {tok} ({c} draws) is outside the kept set"
                let chi2 = expected |> Seq.sumBy (fun (KeyValue(tok, p)) -> let c = float (Map.tryFind tok counts |> Option.defaultValue 0) in (c - float n * p) ** 2.0 / (float n * p))
                let df = expected.Count - 1
                Expect.isLessThan chi2 chi2Critical.[df] $"T={temperature} k={topK} p={topP}: chi2 with {df} dof"
                for i in 0 .. 50 do
                    Expect.floatClose Accuracy.medium (float drawnLp.[i]) (log expected.[int drawn.[i]]) "log-prob under the renormalised policy"
                tokens.Dispose(); lps.Dispose()
        }

        test "sampled log-probs are those of the renormalised distribution of the model's own logits" {
            use m = seededModel (gqaConfig ()) 34L
            let options = SamplingOptions(Temperature = 0.7, TopK = 5, TopP = 0.9, MaxNewTokens = 6, Seed = 1L)
            let r = Sampler(m).Generate([| prompts.[0] |], options)
            use _ = torch.no_grad()
            let mutable seq = prompts.[0] |> Array.map int64
            for tok, lp in Array.zip r.Tokens.[0] r.LogProbs.[0] do
                use logits = m.forward(CausalLMInput(longTensor seq [| 1L; int64 seq.Length |]))
                let dist = renormalised (toArray (logits.select(1, -1L).squeeze(0L)) |> Array.map float) 0.7 5 0.9
                Expect.floatClose Accuracy.medium (float lp) (log dist.[tok]) $"token {tok}"
                seq <- Array.append seq [| int64 tok |]
        }

        test "a stop token finishes a response (and is kept); otherwise it is truncated at MaxNewTokens" {
            use m = seededModel (gqaConfig ()) 35L
            let free = generateSeq m (SamplingOptions(Temperature = 0.0, MaxNewTokens = 6)) true None
            Expect.isFalse (Array.exists id free.Finished) "no stop tokens: all truncated"
            Expect.isTrue (free.Tokens |> Array.forall (fun t -> t.Length = 6)) "MaxNewTokens each"
            let stopAt = free.Tokens.[0].[2]
            let stopped = generateSeq m (SamplingOptions(Temperature = 0.0, MaxNewTokens = 6, StopTokenIds = ResizeArray [ stopAt ])) true None
            let firstStop = Array.IndexOf(free.Tokens.[0], stopAt)
            Expect.isTrue stopped.Finished.[0] "row 0 finished"
            Expect.sequenceEqual stopped.Tokens.[0] (Array.truncate (firstStop + 1) free.Tokens.[0]) "ends with the stop token"
            Expect.equal stopped.LogProbs.[0].Length stopped.Tokens.[0].Length "one log-prob per token"
        }

        test "chunked sequence log-probs and entropies equal the full log-softmax, with the same gradients" {
            use m = seededModel (gqaConfig ()) 36L
            let ids, mask = leftPadded ()
            let struct (lp, ent) = SequenceScorer.Score(m, ids, mask, 0.9, 4L)
            Expect.equal lp.shape [| 3L; 4L |] "[B, T-1]"
            Expect.isFalse ent.requires_grad "entropy is a detached diagnostic"
            use logits = m.forward(CausalLMInput(ids, mask)).narrow(1, 0L, 4L) / 0.9
            use full = logits.log_softmax(-1L)
            use expectedLp = full.gather(2L, ids.narrow(1, 1L, 4L).unsqueeze(-1L)).squeeze(-1L)
            use expectedEnt = -(full.exp() * full).sum(-1L)
            Expect.isLessThan (maxAbsDiff (toArray lp) (toArray expectedLp)) 1e-5 "log-probs"
            Expect.isLessThan (maxAbsDiff (toArray ent) (toArray expectedEnt)) 1e-5 "entropies"
            use w = torch.randn(3L, 4L)
            m.zero_grad()
            (lp * w).sum().backward()
            let gChunked = [ for struct (_, p) in m.named_parameters() -> toArray (nonNull p.grad) ] |> Array.concat
            m.zero_grad()
            (expectedLp * w).sum().backward()
            let gFull = [ for struct (_, p) in m.named_parameters() -> toArray (nonNull p.grad) ] |> Array.concat
            let scale = gFull |> Array.map (fun g -> abs (float g)) |> Array.max
            Expect.isLessThan (maxAbsDiff gChunked gFull / scale) 1e-5 "gradients, relative to the largest"
        }

        test "dropping finished rows changes nothing: outputs equal the run without stops, cut at the first stop" {
            use m = seededModel (gqaConfig ()) 38L
            let batch = [| [| 5; 6; 7; 8; 9 |]; [| 1; 2 |]; [| 30; 31; 32 |]; [| 11 |]; [| 3; 4; 20; 21 |] |]
            for temperature, topP in [ 0.0, 1.0; 1.0, 0.9 ] do
                let withStops (stops: int[]) = SamplingOptions(Temperature = temperature, TopP = topP, MaxNewTokens = 14, Seed = 7L, StopTokenIds = stops)
                let options = withStops [||]
                let free = Sampler(m).Generate(batch, options)
                // A stop token that ends the rows at three or more different steps (or never), so rows leave the
                // batch one by one while others still decode.
                let cut (stopAt: int) (row: int[]) =
                    match Array.tryFindIndex ((=) stopAt) row with
                    | Some i -> Array.truncate (i + 1) row, true
                    | None -> row, false
                let stopAt =
                    free.Tokens |> Array.concat |> Array.distinct
                    |> Array.tryFind (fun c -> free.Tokens |> Array.map (fun r -> (fst (cut c r)).Length) |> Array.distinct |> Array.length >= 3)
                Expect.isSome stopAt $"T={options.Temperature}: some token ends the rows at mixed steps"
                let stopAt = stopAt.Value
                let stopped = withStops [| stopAt |]
                for useCache in [ true; false ] do
                    let dropped = Sampler(m).Generate(batch, stopped, useKvCache = useCache)
                    let kept = Sampler(m).Generate(batch, stopped, useKvCache = useCache, dropFinished = false)
                    Expect.equal dropped.Tokens kept.Tokens $"T={options.Temperature} cache={useCache}: same tokens with and without dropping"
                    Expect.equal dropped.Finished kept.Finished "same finished flags"
                    Expect.isLessThan (maxAbsDiff (Array.concat dropped.LogProbs) (Array.concat kept.LogProbs)) 1e-5 "same log-probs"
                    for i in 0 .. batch.Length - 1 do
                        let expected, finished = cut stopAt free.Tokens.[i]
                        Expect.sequenceEqual dropped.Tokens.[i] expected $"row {i}: the free run cut at its first stop"
                        Expect.equal dropped.Finished.[i] finished $"row {i}: finished iff the stop token came"
                        Expect.isLessThan (maxAbsDiff dropped.LogProbs.[i] (Array.truncate expected.Length free.LogProbs.[i])) 1e-5 $"row {i}: log-probs"
        }

        test "KvCache.KeepRows keeps the stored keys and values of the chosen rows, in the given order" {
            use _ = torch.no_grad()
            use cache = new KvCache(2, 4L, 2, 3, 10)
            use g = new torch.Generator(5UL)
            let appended = [ for layer in 0 .. 1 -> torch.randn([| 4L; 2L; 6L; 3L |], generator = g), torch.randn([| 4L; 2L; 6L; 3L |], generator = g) ]
            for layer, (k, v) in List.indexed appended do
                cache.Append(layer, k.narrow(2L, 0L, 5L), v.narrow(2L, 0L, 5L)) |> ignore
            use rows = torch.tensor([| 3L; 0L |])
            cache.KeepRows rows
            Expect.equal cache.Batch 2L "two rows left"
            Expect.equal cache.Length 5 "length unchanged"
            for layer, (k, v) in List.indexed appended do
                // One more token after the compaction: the history must be rows 3 and 0 of what was appended.
                let struct (keys, values) = cache.Append(layer, k.narrow(2L, 5L, 1L).index_select(0L, rows), v.narrow(2L, 5L, 1L).index_select(0L, rows))
                for j, r in [ 0, 3L; 1, 0L ] do
                    Expect.equal (toArray (keys.select(0L, int64 j))) (toArray (k.select(0L, r))) $"layer {layer}: keys of old row {r}"
                    Expect.equal (toArray (values.select(0L, int64 j))) (toArray (v.select(0L, r))) $"layer {layer}: values of old row {r}"
            Expect.throws (fun () -> cache.KeepRows(torch.tensor([| 2L |]))) "row 2 no longer exists"
        }

        test "generation leaves no live tensors behind" {
            use m = seededModel (gqaConfig ()) 37L
            let sampler = Sampler(m)
            // A stop token, so rows leave the batch (and their cache rows are reallocated) during the loop.
            let free = sampler.Generate(prompts, SamplingOptions(Temperature = 1.0, MaxNewTokens = 5))
            let options = SamplingOptions(Temperature = 1.0, MaxNewTokens = 5, StopTokenIds = [| free.Tokens.[0].[1] |])
            sampler.Generate(prompts, options) |> ignore
            let before = DisposeScopeManager.Statistics.ThreadTotalLiveCount
            for _ in 1 .. 3 do sampler.Generate(prompts, options) |> ignore
            Expect.equal DisposeScopeManager.Statistics.ThreadTotalLiveCount before "live tensor count is flat"
        }
    ]
