using Klear.Host.Configuration;

namespace Klear.Host.Training;

/// <summary>Linear warm-up, then cosine decay from the peak to a floor (SFT) or constant (RL: floor = peak, no decay).</summary>
public sealed record LearningRateSchedule(double Peak, double Floor, int WarmupSteps, int TotalSteps, bool Cosine)
{
    public static LearningRateSchedule WarmupCosine(double peak, double floor, int warmup, int total) => new(peak, floor, warmup, total, true);
    public static LearningRateSchedule WarmupConstant(double peak, int warmup) => new(peak, peak, warmup, 0, false);

    /// <summary>SFT's schedule over <paramref name="steps"/>; errors name the sft key.</summary>
    public static LearningRateSchedule ForSft(SftConfig c, int steps)
    {
        Check("sft", c.Lr, c.WarmupSteps);
        if (!(c.MinLr >= 0 && c.MinLr <= c.Lr)) throw new ConfigException($"sft.min_lr must be in [0, sft.lr = {c.Lr}], got {c.MinLr}");
        return WarmupCosine(c.Lr, c.MinLr, c.WarmupSteps, steps);
    }

    /// <summary>RL's schedule; errors name the actor key.</summary>
    public static LearningRateSchedule ForRl(ActorConfig c)
    {
        Check("actor", c.Lr, c.WarmupSteps);
        return WarmupConstant(c.Lr, c.WarmupSteps);
    }

    static void Check(string section, double lr, int warmup)
    {
        if (!(lr > 0 && double.IsFinite(lr))) throw new ConfigException($"{section}.lr must be a finite number > 0, got {lr}");
        if (warmup < 0) throw new ConfigException($"{section}.warmup_steps must be 0 or positive, got {warmup}");
    }

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
