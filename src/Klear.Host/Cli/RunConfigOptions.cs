using System.CommandLine;
using System.Globalization;
using Klear.Host.Configuration;

namespace Klear.Host.Cli;

/// <summary>
/// How a command gets its run configuration: <c>--config FILE.yaml</c>, <c>--seed</c>, <c>--output-dir</c> and any
/// number of verl-style overrides <c>key.sub_key=value</c>, applied in that order over the built-in defaults.
/// </summary>
public sealed class RunConfigOptions
{
    readonly Option<string> _config = CliOption.Text("--config", "YAML file of config keys, applied over the built-in defaults");
    readonly Option<long?> _seed = CliOption.OptionalLong("--seed", "the run's seed (same as seed=N)");
    readonly Option<string> _outputDir = CliOption.Text("--output-dir", "where run directories are made (same as output_dir=DIR)");
    readonly Argument<string[]> _overrides = new("overrides")
    {
        Description = "config overrides, e.g. actor.clip_ratio_high=0.3 trainer.steps=40",
        HelpName = "key.sub_key=value",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public RunConfigOptions(Command command)
    {
        // Tokens that match no option land here, so this is where a misspelt option is caught.
        _overrides.Validators.Add(r =>
        {
            var tokens = r.Tokens.Select(t => t.Value).ToList();
            var unknown = tokens.Where(t => t.StartsWith('-')).ToList();
            if (unknown.Count > 0) r.AddError($"unknown option{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown)}");
            else if (tokens.FirstOrDefault(t => !t.Contains('=')) is { } bare)
                r.AddError($"unexpected argument '{bare}' (config overrides look like key.sub_key=value)");
        });
        command.Add(_config);
        command.Add(_seed);
        command.Add(_outputDir);
        command.Add(_overrides);
    }

    /// <summary>True when any config option or override was given.</summary>
    public bool AnyGiven(ParseResult parsed) =>
        parsed.GetResult(_config) is { Implicit: false } || parsed.GetResult(_seed) is { Implicit: false }
        || parsed.GetResult(_outputDir) is { Implicit: false } || (parsed.GetValue(_overrides) ?? []).Length > 0;

    /// <summary>The configuration; an unknown key or a bad value is a <see cref="UsageException"/> naming the key.</summary>
    /// <param name="recipe">The command's own overrides of the built-in defaults (the config file and the
    /// command line apply over them).</param>
    public RunConfig Bind(ParseResult parsed, IEnumerable<string>? recipe = null)
    {
        var overrides = new List<string>(parsed.GetValue(_overrides) ?? []);
        if (parsed.GetValue(_seed) is { } seed) overrides.Add($"seed={seed.ToString(CultureInfo.InvariantCulture)}");
        if (parsed.GetValue(_outputDir) is { } output) overrides.Add($"output_dir={output}");
        try { return ConfigBinder.Bind<RunConfig>(parsed.GetValue(_config), overrides, recipe); }
        catch (ConfigException e) { throw new UsageException(e.Message); }
    }
}
