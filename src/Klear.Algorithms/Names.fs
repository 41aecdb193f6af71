namespace Klear.Algorithms

open System
open System.Runtime.CompilerServices

/// Parsing of the closed name registries (objectives, estimators, ...): one spelling per case, and an error that
/// lists the valid names.
module Names =
    let parse (kind: string) (name: 'a -> string) (all: 'a list) (text: string) : Result<'a, string> =
        let wanted = text.Trim().ToLowerInvariant()
        match all |> List.tryFind (fun x -> name x = wanted) with
        | Some x -> Ok x
        | None -> Error $"""unknown {kind} '{text}'; valid: {all |> List.map name |> String.concat ", "}"""

/// C# access to the registries' results without F#'s `Result` internals.
[<Extension; AbstractClass; Sealed>]
type ResultExtensions =
    /// The parsed value, or the exception `error` makes of the message (which lists the valid names).
    [<Extension>]
    static member OrThrow(result: Result<'a, string>, error: Func<string, exn>) =
        match result with
        | Ok x -> x
        | Error message -> raise (error.Invoke message)
