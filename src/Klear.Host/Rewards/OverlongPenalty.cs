namespace Klear.Host.Rewards;

/// <summary>DAPO's soft overlong punishment (Yu et al. 2025, Eq. 13), a reward term added to the rule reward: 0 up to
/// <c>max - buffer</c> tokens, then linear down to <c>-factor</c> at <c>max</c>. A buffer of 0 is off.</summary>
public sealed record OverlongPenalty(int MaxLength, int Buffer, double Factor)
{
    public bool IsOn => Buffer > 0;

    /// <summary>The first bad setting as (config key, message), or null.</summary>
    public (string Key, string Message)? Problem() =>
        Buffer < 0 ? ("reward.overlong_buffer_len", $"must be >= 0, got {Buffer}")
        : Buffer > MaxLength ? ("reward.overlong_buffer_len", $"must be <= rollout.max_new_tokens ({MaxLength}), got {Buffer}")
        : !(Factor >= 0) || double.IsInfinity(Factor) ? ("reward.overlong_penalty_factor", $"must be a finite number >= 0, got {Factor}")
        : null;

    /// <summary>The penalty (≤ 0) of a response of <paramref name="length"/> tokens.</summary>
    public double Of(int length)
    {
        if (!IsOn) return 0;
        var exceed = length - (MaxLength - Buffer);
        return Math.Min(0.0, -(double)exceed / Buffer * Factor);
    }
}
