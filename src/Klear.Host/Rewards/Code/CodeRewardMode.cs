namespace Klear.Host.Rewards.Code;

/// <summary>How test results become a scalar reward (the paper's soft-vs-hard ablation).</summary>
public enum CodeRewardMode
{
    /// <summary>Soft, as in the paper: the pass ratio in [0, 1].</summary>
    PassRatio,
    /// <summary>Soft, as in the released code: <c>2·ratio − 1</c> in [−1, 1] (equal to PassRatio after group normalisation).</summary>
    SignedPassRatio,
    /// <summary>Hard: 1 when all tests pass, else 0.</summary>
    AllOrNothing,
}
