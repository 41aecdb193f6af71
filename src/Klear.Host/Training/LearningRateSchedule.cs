namespace Klear.Host.Training;

/// <summary>Linear warm-up, then cosine decay from the peak to a floor (SFT) or constant (RL: floor = peak, no decay).</summary>
public sealed record LearningRateSchedule(double Peak, double Floor, int WarmupSteps, int TotalSteps, bool Cosine)
{
    public static LearningRateSchedule WarmupCosine(double peak, double floor, int warmup, int total) => new(peak, floor, warmup, total, true);
    public static LearningRateSchedule WarmupConstant(double peak, int warmup) => new(peak, peak, warmup, 0, false);

    /// <summary>The rate for 0-based <paramref name="step"/>.</summary>
    public double At(int step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        if (!Cosine) return Peak;
        var span = Math.Max(1, TotalSteps - WarmupSteps);
        var progress = Math.Clamp((double)(step - WarmupSteps) / span, 0, 1);
        return Floor + 0.5 * (Peak - Floor) * (1 + Math.Cos(Math.PI * progress));
    }
}
