namespace Klear.Algorithms

open TorchSharp

/// Outcome-reward advantage estimators. Rewards come as [G, n]: G groups (prompts) of n rollouts each.
type AdvantageEstimator =
    /// (R - group mean) / (group std + 1e-6), unbiased std as the released code (Shao et al. 2024).
    | Grpo
    /// R - group mean: Dr.GRPO drops the std (Liu et al. 2025).
    | DrGrpo
    /// R - mean of the other n-1 rollouts of the group (Ahmadian et al. 2024).
    | Rloo
    /// (R - batch mean) / sqrt(batch var + 1e-8): REINFORCE++ normalises over the whole batch (Hu 2025; verl's whiten).
    | ReinforcePlusPlus

module Advantages =
    let all = [ Grpo; DrGrpo; Rloo; ReinforcePlusPlus ]

    let name =
        function
        | Grpo -> "grpo"
        | DrGrpo -> "drgrpo"
        | Rloo -> "rloo"
        | ReinforcePlusPlus -> "reinforce++"

    let parse (text: string) = Names.parse "advantage estimator" name all text

    /// Every estimator's name, as configs spell them.
    let names = all |> List.map name |> Array.ofList

    /// Per-rollout advantages [G, n] from rewards [G, n].
    let compute (estimator: AdvantageEstimator) (rewards: Tensor) : Tensor =
        Tensors.requireRank "rewards" 2 rewards
        let n = rewards.shape[1]
        if n < 2L && estimator <> ReinforcePlusPlus then
            invalidArg "rewards" $"{name estimator} needs at least 2 rollouts per group, got shape {Tensors.shapeText rewards}"
        let groupMean () = rewards.mean([| 1L |], keepdim = true)
        match estimator with
        | Grpo -> (rewards - groupMean ()) / (rewards.std(1L, unbiased = true, keepdim = true) + Tensors.scalar 1e-6)
        | DrGrpo -> rewards - groupMean ()
        | Rloo ->
            let others = (rewards.sum(1L, keepdim = true) - rewards) / Tensors.scalar (float (n - 1L))
            rewards - others
        | ReinforcePlusPlus ->
            let flat = rewards.flatten ()
            let var = if flat.shape[0] > 1L then flat.var(unbiased = true) else torch.zeros_like (flat.sum ())
            (rewards - flat.mean ()) * (var + Tensors.scalar 1e-8).rsqrt ()

    /// Groups whose rewards have zero spread (all correct or all wrong): their advantages are zero and carry no
    /// signal, so the recipe drops them (Klear-Reasoner Fig. 5). Bool [G].
    let zeroAdvantageGroups (rewards: Tensor) : Tensor =
        Tensors.requireRank "rewards" 2 rewards
        rewards.amax([| 1L |]).eq (rewards.amin ([| 1L |]))

    /// Broadcasts per-sequence advantages [B] over the response tokens: [B] × mask [B, T] -> [B, T].
    let toTokens (advantages: Tensor) (mask: Tensor) =
        Tensors.requireRank "advantages" 1 advantages
        if advantages.shape[0] <> mask.shape[0] then
            invalidArg "mask" $"advantages has shape {Tensors.shapeText advantages} but mask has shape {Tensors.shapeText mask}"
        advantages.unsqueeze(1L) * mask
