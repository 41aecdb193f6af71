/// The repository the tests run from: its files (README, docs, tests/data, sources) are read where they are.
module Klear.Tests.Repo

open System
open System.IO

/// The repository root, found upwards from the test binary (the checkout's files, not copies).
let root =
    let rec up (d: DirectoryInfo | null) =
        match d with
        | null -> failwith "Klear.sln not found above the test binary"
        | d when File.Exists(Path.Combine(d.FullName, "Klear.sln")) -> d.FullName
        | d -> up d.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// A path below the repository root.
let file (parts: string list) = Path.Combine(Array.ofList (root :: parts))
