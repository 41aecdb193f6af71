namespace Klear.Algorithms

/// GSPO (Zheng et al. 2025, arXiv 2507.18071): the PPO clip applied to a sequence-level ratio; see Ratio.sequence.
module Gspo =
    /// GSPO Eq. 7 with the token form of Eq. 12; clip ranges are small (≈ 3e-4 / 4e-4 in the GSPO paper).
    let gspo (range: ClipRange) =
        { Range = range; Low = Stop; High = Stop; DualClip = None; Level = SequenceRatio }
