namespace Klear.Algorithms

open System
open TorchSharp

/// TorchSharp's tensor, under the name the rest of the core uses.
type Tensor = torch.Tensor

/// Small tensor helpers shared by the objectives. TorchSharp's `torch.matmul` on mismatched shapes kills the process
/// (docs/platform.md), and broadcasting silently hides a [B,T] vs [B] mix-up, so every public entry checks shapes
/// first.
[<RequireQualifiedAccess>]
module Tensors =

    let shapeText (t: Tensor) = "[" + String.Join(", ", t.shape) + "]"

    /// Throws naming both arguments and their shapes unless `a` and `b` have the same shape.
    let requireSameShape (nameA: string) (a: Tensor) (nameB: string) (b: Tensor) =
        if a.shape <> b.shape then
            invalidArg nameB $"{nameB} has shape {shapeText b} but {nameA} has shape {shapeText a}; they must match"

    let requireRank (name: string) (rank: int) (t: Tensor) =
        if t.dim() <> int64 rank then invalidArg name $"{name} must have {rank} dimensions, got shape {shapeText t}"

    /// Stop-gradient (the papers' sg).
    let sg (t: Tensor) = t.detach()

    let scalar (x: float) = Scalar.op_Implicit x

    /// A constant tensor like `t` (same dtype and device) filled with x.
    let full (t: Tensor) (x: float) = torch.full_like(t, scalar x)

    /// 1.0 where the boolean tensor is true, 0.0 elsewhere, in the dtype of `like`.
    let indicator (like: Tensor) (b: Tensor) = b.to_type(like.dtype)

    /// Σ mask·x over every element.
    let maskedSum (mask: Tensor) (x: Tensor) = (x * mask).sum()

    /// Per-row Σ_t mask·x: [B,T] -> [B].
    let rowSum (mask: Tensor) (x: Tensor) = (x * mask).sum(1L)
