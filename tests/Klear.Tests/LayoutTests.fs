/// The repository's shape, checked on the source tree: the host's folders are pipeline stages whose dependencies all
/// point one way, and the tree cites its own docs/ rather than files outside the repository or issue numbers.
module Klear.Tests.LayoutTests

open System
open System.IO
open System.Text.RegularExpressions
open Expecto

let private repoRoot = Repo.root

/// The host's stages in dependency order: a folder may use only the folders before it (README's tour lists them so).
let stageOrder =
    [ "Configuration"; "Tokenization"; "Model"; "Checkpoints"; "Rollout"; "Rewards"; "Data"; "Metrics"; "Evaluation"
      "Training"; "Distributed"; "Cli" ]

let sourceFiles (dir: string) (patterns: string list) =
    patterns
    |> List.collect (fun p -> Directory.GetFiles(dir, p, SearchOption.AllDirectories) |> List.ofArray)
    |> List.filter (fun f ->
        let parts = f.Split(Path.DirectorySeparatorChar)
        not (Array.contains "bin" parts || Array.contains "obj" parts || Array.contains "node_modules" parts))

/// Folder → the other host folders its C# files name (in `using` lines or qualified names).
let hostDependencies () =
    let host = Path.Combine(repoRoot, "src", "Klear.Host")
    let reference = Regex(@"\bKlear\.Host\.([A-Z][A-Za-z]*)")
    sourceFiles host [ "*.cs" ]
    |> List.choose (fun f ->
        let rel = Path.GetRelativePath(host, f).Split(Path.DirectorySeparatorChar)
        if rel.Length < 2 then None   // Program.cs: the entry point may use everything
        else
            let used = reference.Matches(File.ReadAllText f) |> Seq.map (fun m -> m.Groups[1].Value) |> Set.ofSeq
            Some(rel[0], Set.remove rel[0] used))
    |> List.groupBy fst
    |> List.map (fun (folder, uses) -> folder, uses |> List.map snd |> Set.unionMany)

[<Tests>]
let tests =
    testList "layout" [
        test "every host folder is a known stage and depends only on the stages before it" {
            let deps = hostDependencies ()
            Expect.isNonEmpty deps "the host's folders were found"
            for folder, uses in deps do
                let rank name = List.tryFindIndex ((=) name) stageOrder
                Expect.isSome (rank folder) $"src/Klear.Host/{folder} is in the stage order (add it where it belongs)"
                for used in uses do
                    Expect.isSome (rank used) $"{folder} uses Klear.Host.{used}, which is no stage folder"
                    Expect.isLessThan (rank used).Value (rank folder).Value
                        $"{folder} depends on {used}, a later stage: dependencies must point one way"
        }

        test "the stage check sees a backward arrow" {
            // Guards the check above against passing vacuously: Training really uses earlier stages.
            let training = hostDependencies () |> List.find (fst >> (=) "Training") |> snd
            Expect.containsAll training [ "Configuration"; "Model"; "Evaluation" ] "Training's uses are seen"
        }

        test "code, tests and build files cite docs/, never files outside the repository or issue numbers" {
            let outside = Regex(@"\.\./" + "shared|shared/" + "reference|platform-" + "notes")
            let issue = Regex(@"\b[Ii]ssues? #?\d+")
            let files =
                [ "src"; "tests"; "build"; "bench"; ".ci" ]
                |> List.map (fun d -> Path.Combine(repoRoot, d))
                |> List.filter Directory.Exists
                |> List.collect (fun d -> sourceFiles d [ "*.cs"; "*.fs"; "*.fsx"; "*.py"; "*.props"; "*.targets"; "*proj"; "run"; "*.md"; "*.mjs" ])
            Expect.isNonEmpty files "source files were found"
            let offending =
                [ for f in files do
                    for i, line in File.ReadLines f |> Seq.indexed do
                        if outside.IsMatch line || issue.IsMatch line then
                            yield $"{Path.GetRelativePath(repoRoot, f)}:{i + 1}: {line.Trim()}" ]
            if not offending.IsEmpty then
                failtestf "cite docs/ instead:\n%s" (String.Join("\n", offending))
        }
    ]
