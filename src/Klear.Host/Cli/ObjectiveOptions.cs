using Klear.Algorithms;

namespace Klear.Host.Cli;

/// <summary>The objective options shared by the <c>loss</c> commands: --objective, --eps-low, --eps-high,
/// --dual-clip, --beta1, --beta2; an option left out takes the registry's default (ObjectiveSettings.Default).</summary>
public static class ObjectiveOptions
{
    public static PolicyObjective Read(CliArgs args, string? objectiveName = null)
    {
        var name = objectiveName ?? args.RequiredString("objective");
        try
        {
            return Objective.fromSettings(name, args.OptionalDouble("eps-low"), args.OptionalDouble("eps-high"),
                args.OptionalDouble("dual-clip"), args.OptionalDouble("beta1"), args.OptionalDouble("beta2"));
        }
        catch (ObjectiveSettingException e) { throw new UsageException(e.Message); }
    }
}
