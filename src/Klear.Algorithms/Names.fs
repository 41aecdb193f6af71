namespace Klear.Algorithms

/// Parsing of the closed name registries (objectives, estimators, ...): one spelling per case, and an error that
/// lists the valid names.
module Names =
    let parse (kind: string) (name: 'a -> string) (all: 'a list) (text: string) : Result<'a, string> =
        let wanted = text.Trim().ToLowerInvariant()
        match all |> List.tryFind (fun x -> name x = wanted) with
        | Some x -> Ok x
        | None -> Error $"""unknown {kind} '{text}'; valid: {all |> List.map name |> String.concat ", "}"""
