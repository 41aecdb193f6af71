// The first cell of every notebook (`#load "setup.fsx"`), before `#load "klear.fsx"`.
//
// 1. Says in words what to do when Klear is not built, before klear.fsx's `#r` lines fail on a missing DLL.
// 2. Links the build output of the `klear` program into notebooks/.lib/ (gitignored), all but FSharp.Core.dll: the
//    kernel has its own FSharp.Core (10.0) and, if the referenced folder offers another one (10.1, which Klear pins),
//    compiles the cells against it and then fails with "Could not load file or assembly 'FSharp.Core, Version=10.1.0.0'".
//    Without a FSharp.Core.dll beside them, Klear's assemblies run on the kernel's copy.
// 3. Links what the build of paper-repro adds to it (paper-repro.dll, Argu, ...) into the same folder, when that build
//    exists (03-ablation references it; notebooks/run builds it; it lands in paper-repro/bin/Release/net10.0/linux-x64).
// Separate from klear.fsx because `#r` lines are resolved before any code of the same cell runs.
open System.IO

let private klearBin =
    Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "..", "src", "Klear.Host", "bin", "Release", "net10.0", "linux-x64"))
let private libDir = Path.Combine(__SOURCE_DIRECTORY__, ".lib")
let private missing =
    [ "klear.dll"; "Klear.Algorithms.dll"; "TorchSharp.dll"; "libLibTorchSharp.so"; "Plotly.NET.dll" ]
    |> List.filter (fun f -> not (File.Exists(Path.Combine(klearBin, f))))
if not missing.IsEmpty then
    let names = String.concat ", " missing
    failwith
        $"Klear is not built (missing in {klearBin}: {names}). From the repository root run `notebooks/run` once \
          (it builds what the notebooks need), or `dotnet tool restore && dotnet build src/Klear.Host -c Release`, \
          then run this notebook again."

Directory.CreateDirectory libDir |> ignore
for f in Directory.GetFiles libDir do File.Delete f
for f in Directory.GetFiles klearBin do
    let name = Path.GetFileName f
    if name <> "FSharp.Core.dll" then File.CreateSymbolicLink(Path.Combine(libDir, name), f) |> ignore
printfn "Klear build found: %s (linked into notebooks/.lib without FSharp.Core.dll)" klearBin

let private paperReproBin =
    Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "..", "paper-repro", "bin", "Release", "net10.0", "linux-x64"))
// Only what Klear's build lacks: the shared assemblies stay Klear's, so both builds cannot mix two copies of one DLL.
if File.Exists(Path.Combine(paperReproBin, "paper-repro.dll")) then
    for f in Directory.GetFiles paperReproBin do
        let name = Path.GetFileName f
        let link = Path.Combine(libDir, name)
        if name <> "FSharp.Core.dll" && not (File.Exists link) then File.CreateSymbolicLink(link, f) |> ignore
    printfn "paper-repro build found: %s (its own assemblies linked into notebooks/.lib too)" paperReproBin
else
    printfn "paper-repro is not built (only 03-ablation needs it): `dotnet build paper-repro -c Release`, or `notebooks/run`"
