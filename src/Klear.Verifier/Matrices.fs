/// Sums and products of explicit matrices (`A + B`, `I I`, `2A`) worked out entry by entry, so an answer written as
/// a matrix expression compares with the matrix it equals.
module Klear.Verifier.Matrices

let private shape (m: Expr list list) = m.Length, (List.head m).Length

let private hasMatrix (e: Expr) =
    match e with
    | Matrix _ -> true
    | Add xs | Mul xs -> xs |> List.exists (fun x -> match x with Matrix _ -> true | _ -> false)
    | _ -> false

let rec private value (e: Expr) : Choice<Expr list list, Expr> option =
    match e with
    | Matrix rows -> Some(Choice1Of2 rows)
    | Add xs ->
        let parts = xs |> List.map value
        if parts |> List.exists Option.isNone then None
        else
            match parts |> List.choose id with
            | Choice1Of2 first :: rest ->
                let sum =
                    rest |> List.fold (fun acc part ->
                        match acc, part with
                        | Some m, Choice1Of2 n when shape m = shape n -> Some(List.map2 (List.map2 (fun a b -> Add [ a; b ])) m n)
                        | _ -> None) (Some first)
                sum |> Option.map Choice1Of2
            | _ -> None
    | Mul xs ->
        let parts = xs |> List.map value
        if parts |> List.exists Option.isNone then None
        else
            let step acc part =
                match acc, part with
                | Some(Choice2Of2 s), Choice2Of2 t -> Some(Choice2Of2(Mul [ s; t ]))
                | Some(Choice2Of2 s), Choice1Of2 m | Some(Choice1Of2 m), Choice2Of2 s ->
                    Some(Choice1Of2(m |> List.map (List.map (fun a -> Mul [ s; a ]))))
                | Some(Choice1Of2 m), Choice1Of2 n when snd (shape m) = fst (shape n) ->
                    let cols = List.transpose n
                    Some(Choice1Of2 [ for row in m -> [ for col in cols -> Add(List.map2 (fun a b -> Mul [ a; b ]) row col) ] ])
                | _ -> None
            parts |> List.choose id |> List.fold step (Some(Choice2Of2(Num Rational.one)))
    | _ when not (Expr.isSetLike e || Expr.isRelation e) -> Some(Choice2Of2 e)
    | _ -> None

/// The matrix an expression of matrices equals, or None when it is not one (a plain matrix stays as it is).
let evaluate (e: Expr) : Expr option =
    if not (hasMatrix e) then None
    else
        match e with
        | Matrix _ -> None
        | _ ->
            match value e with
            | Some(Choice1Of2 rows) -> Some(Matrix rows)
            | _ -> None
