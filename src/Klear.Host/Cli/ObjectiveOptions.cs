using System.CommandLine;
using Klear.Algorithms;

namespace Klear.Host.Cli;

/// <summary>The objective options shared by the <c>loss</c> commands: --objective, --eps-low, --eps-high,
/// --dual-clip, --beta1, --beta2, --tau-pos, --tau-neg; an option left out takes the registry's default (ObjectiveSettings.Default).</summary>
public sealed class ObjectiveOptions
{
    static readonly ObjectiveSettings Defaults = ObjectiveSettings.Default;

    readonly Option<string> _objective = CliOption.Text("--objective", "one of " + string.Join(", ", Objective.all.Select(Objective.name)), required: true);
    readonly Option<double> _epsLow = CliOption.Double("--eps-low", "lower clip range: r < 1 - eps_low is clipped", Defaults.EpsLow);
    readonly Option<double?> _epsHigh = CliOption.OptionalDouble("--eps-high", $"upper clip range: r > 1 + eps_high is clipped [default: {ObjectiveDefaults.EpsHigh}; for ppo, eps_low]");
    readonly Option<double?> _dualClip = CliOption.OptionalDouble("--dual-clip", "dual clip c > 1 for A < 0 tokens with r > c [default: off]");
    readonly Option<double> _beta1 = CliOption.Double("--beta1", "gppo-general: gradient weight below 1 - eps_low", Defaults.Beta1);
    readonly Option<double> _beta2 = CliOption.Double("--beta2", "gppo-general: gradient weight above 1 + eps_high", Defaults.Beta2);
    readonly Option<double> _tauPos = CliOption.Double("--tau-pos", "sapo: gate temperature for A > 0", Defaults.TauPos);
    readonly Option<double> _tauNeg = CliOption.Double("--tau-neg", "sapo: gate temperature for A <= 0", Defaults.TauNeg);

    public ObjectiveOptions(Command command)
    {
        foreach (var option in new Option[] { _objective, _epsLow, _epsHigh, _dualClip, _beta1, _beta2, _tauPos, _tauNeg }) command.Add(option);
    }

    public PolicyObjective Read(ParseResult parsed)
    {
        try
        {
            return Objective.fromSettings(parsed.GetRequiredValue(_objective), parsed.GetValue(_epsLow), parsed.GetValue(_epsHigh),
                parsed.GetValue(_dualClip), parsed.GetValue(_beta1), parsed.GetValue(_beta2), parsed.GetValue(_tauPos), parsed.GetValue(_tauNeg));
        }
        catch (ObjectiveSettingException e) { throw new UsageException(e.Message); }
    }
}
