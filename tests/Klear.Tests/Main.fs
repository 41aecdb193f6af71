module Klear.Tests.Main

open Expecto
open Expecto.Impl

/// Runs every [<Tests>] value of this assembly and closes with the line `N passed, N failed`, counted from Expecto's
/// own results. A run in which no test executed fails: a filter that matches nothing, or a build that lost the tests,
/// must not look green.
[<EntryPoint>]
let main argv =
    // As klear does first thing: the tests run the GEMM kernels users get (MklDispatch; "MKL dispatch" tests it).
    Klear.Host.Model.MklDispatch.PreferIntelKernels() |> ignore
    let mutable counts = None
    let record (s: TestRunSummary) =
        counts <- Some (s.passed.Length, s.failed.Length + s.errored.Length)
    let code = runTestsInAssemblyWithCLIArgs [ Append_Summary_Handler (SummaryHandler record) ] argv
    match counts with
    | Some (passed, failed) when passed + failed > 0 ->
        printfn "%d passed, %d failed" passed failed
        code
    | _ ->
        eprintfn "klear tests: zero tests ran; failing the run"
        printfn "0 passed, 0 failed"
        3
