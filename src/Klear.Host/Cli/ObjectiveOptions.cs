using Klear.Host.Configuration;
using Klear.Algorithms;
using Microsoft.FSharp.Core;

namespace Klear.Host.Cli;

/// <summary>The objective options shared by the <c>loss</c> commands: --objective, --eps-low, --eps-high,
/// --dual-clip, --beta1, --beta2, with the paper's defaults (ObjectiveSettings.Default).</summary>
public static class ObjectiveOptions
{
    public static PolicyObjective Read(CliArgs args, string? objectiveName = null)
    {
        var d = ObjectiveSettings.Default;
        try
        {
            return Build(objectiveName ?? args.RequiredString("objective"), args.Double("eps-low", d.EpsLow),
                args.OptionalDouble("eps-high"), args.OptionalDouble("dual-clip"), args.Double("beta1", d.Beta1), args.Double("beta2", d.Beta2));
        }
        catch (ConfigException e) { throw new UsageException(e.Message); }
    }

    /// <summary>A named objective from its settings (the registry in Objective.fs); errors name the setting.</summary>
    public static PolicyObjective Build(string name, double epsLow, double? epsHigh, double? dualClip, double beta1, double beta2)
    {
        var parsed = Objective.parse(name);
        if (parsed.IsError) throw new ConfigException(parsed.ErrorValue);
        var built = Objective.build(parsed.ResultValue, new ObjectiveSettings(epsLow, ToOption(epsHigh), ToOption(dualClip), beta1, beta2));
        return built.IsError ? throw new ConfigException(built.ErrorValue) : built.ResultValue;
    }

    static FSharpOption<double>? ToOption(double? x) => x is { } v ? FSharpOption<double>.Some(v) : null;
}
