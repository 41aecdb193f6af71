using System.CommandLine;
using Klear.Host.Configuration;
using Klear.Algorithms;
using Microsoft.FSharp.Core;

namespace Klear.Host.Cli;

/// <summary>The objective options shared by the <c>loss</c> commands: --objective, --eps-low, --eps-high,
/// --dual-clip, --beta1, --beta2, with the paper's defaults (ObjectiveSettings.Default).</summary>
public sealed class ObjectiveOptions
{
    static readonly ObjectiveSettings Defaults = ObjectiveSettings.Default;

    readonly Option<string> _objective = CliOption.Text("--objective", "one of " + string.Join(", ", Objective.all.Select(Objective.name)), required: true);
    readonly Option<double> _epsLow = CliOption.Double("--eps-low", "lower clip range: r < 1 - eps_low is clipped", Defaults.EpsLow);
    readonly Option<double?> _epsHigh = CliOption.OptionalDouble("--eps-high", "upper clip range: r > 1 + eps_high is clipped [default: 0.28; for ppo, eps_low]");
    readonly Option<double?> _dualClip = CliOption.OptionalDouble("--dual-clip", "dual clip c > 1 for A < 0 tokens with r > c [default: off]");
    readonly Option<double> _beta1 = CliOption.Double("--beta1", "gppo-general: gradient weight below 1 - eps_low", Defaults.Beta1);
    readonly Option<double> _beta2 = CliOption.Double("--beta2", "gppo-general: gradient weight above 1 + eps_high", Defaults.Beta2);

    public ObjectiveOptions(Command command)
    {
        foreach (var option in new Option[] { _objective, _epsLow, _epsHigh, _dualClip, _beta1, _beta2 }) command.Add(option);
    }

    public PolicyObjective Read(ParseResult parsed)
    {
        try
        {
            return Build(parsed.GetRequiredValue(_objective), parsed.GetValue(_epsLow), parsed.GetValue(_epsHigh),
                parsed.GetValue(_dualClip), parsed.GetValue(_beta1), parsed.GetValue(_beta2));
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
