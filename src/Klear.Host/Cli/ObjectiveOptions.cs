using Klear.Algorithms;
using Microsoft.FSharp.Core;

namespace Klear.Host.Cli;

/// <summary>The objective options shared by the <c>loss</c> commands: --objective, --eps-low, --eps-high,
/// --dual-clip, --beta1, --beta2, with the paper's defaults (ObjectiveSettings.Default).</summary>
public static class ObjectiveOptions
{
    public static PolicyObjective Read(CliArgs args, string? objectiveName = null)
    {
        var name = objectiveName ?? args.RequiredString("objective");
        var parsed = Objective.parse(name);
        if (parsed.IsError) throw new UsageException(parsed.ErrorValue);
        var d = ObjectiveSettings.Default;
        var settings = new ObjectiveSettings(
            args.Double("eps-low", d.EpsLow),
            ToOption(args.OptionalDouble("eps-high")),
            ToOption(args.OptionalDouble("dual-clip")),
            args.Double("beta1", d.Beta1),
            args.Double("beta2", d.Beta2));
        var built = Objective.build(parsed.ResultValue, settings);
        return built.IsError ? throw new UsageException(built.ErrorValue) : built.ResultValue;
    }

    static FSharpOption<double>? ToOption(double? x) => x is { } v ? FSharpOption<double>.Some(v) : null;
}
