using System.CommandLine;
using Klear.Host.Configuration;
using Klear.Host.Training;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear config show [--config FILE] [key=value ...]</c>: the resolved configuration as YAML, each key with its
/// help, type and default as a comment (ConfigDescription), plus what the settings imply (derived:). The settings are
/// checked as a run would check them (TrainingRun's constructor), so a bad one exits 2 here too; the output can be
/// saved and given back with --config.
/// </summary>
public sealed class ConfigShowCommand : KlearCommand
{
    readonly RunConfigOptions _config;

    public ConfigShowCommand() : base("config show", "the resolved configuration: every key with its value, default, type and help")
        => _config = new RunConfigOptions(this);

    protected override bool UsesTorch => false;

    protected override int Run(ParseResult parsed)
    {
        var config = _config.Bind(parsed);
        TrainingRun run;
        try { run = new TrainingRun(config, TextWriter.Null); }
        catch (ConfigException e) { throw new UsageException(e.Message); }
        Console.Write(ConfigDescription.ToYaml(config, run.Derived));
        return 0;
    }
}
