using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Klear.Host.Cli;

/// <summary>
/// Typed options with a default and a help text. Numbers parse in the invariant culture, as config values do, and a
/// bad value is a parse error naming the option, so the command exits 2 before any work starts.
/// </summary>
public static class CliOption
{
    public static Option<int> Int(string name, string description, int fallback) =>
        new(name) { Description = description, HelpName = "N", DefaultValueFactory = _ => fallback, CustomParser = r => ParseInt(name, r) ?? 0 };

    public static Option<long?> OptionalLong(string name, string description) =>
        new(name) { Description = description, HelpName = "N", CustomParser = r => ParseLong(name, r) };

    public static Option<double> Double(string name, string description, double fallback) =>
        new(name) { Description = description, HelpName = "X", DefaultValueFactory = _ => fallback, CustomParser = r => ParseDouble(name, Single(r), r) ?? 0 };

    public static Option<double?> OptionalDouble(string name, string description) =>
        new(name) { Description = description, HelpName = "X", CustomParser = r => ParseDouble(name, Single(r), r) };

    /// <summary>A required comma-separated list of numbers, e.g. <c>--advantage 1,-1,-1</c>.</summary>
    public static Option<double[]> Numbers(string name, string description) =>
        new(name)
        {
            Description = description, Required = true, HelpName = "x,y,...",
            CustomParser = r => Single(r).Split(',', StringSplitOptions.TrimEntries).Select(s => ParseDouble(name, s, r) ?? 0).ToArray(),
        };

    /// <summary>An optional comma-separated list of integers, e.g. <c>--seq 0,0,1</c>; null when left out.</summary>
    public static Option<int[]?> Integers(string name, string description) =>
        new(name)
        {
            Description = description, HelpName = "i,j,...",
            CustomParser = r => Single(r).Split(',', StringSplitOptions.TrimEntries).Select(s =>
            {
                if (int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)) return v;
                r.AddError($"{name}: '{s}' is not an integer");
                return 0;
            }).ToArray(),
        };

    public static Option<string> Text(string name, string description, bool required = false) =>
        new(name) { Description = description, Required = required };

    public static Option<string> Text(string name, string description, string fallback) =>
        new(name) { Description = description, DefaultValueFactory = _ => fallback };

    /// <summary>One of a few words; anything else is an error listing them.</summary>
    public static Option<string> Choice(string name, string description, string fallback, params string[] values)
    {
        var option = new Option<string>(name) { Description = description, DefaultValueFactory = _ => fallback, HelpName = string.Join('|', values) };
        option.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string>();
            if (!values.Contains(v)) r.AddError($"{name}: expected {string.Join(", ", values[..^1])} or {values[^1]}, got '{v}'");
        });
        option.CompletionSources.Add(values);
        return option;
    }

    /// <summary>A switch: <c>--name</c> alone is true, <c>--name false</c> turns a default of true off.</summary>
    public static Option<bool> Flag(string name, string description, bool fallback = false) =>
        new(name) { Description = description, DefaultValueFactory = _ => fallback };

    static string Single(ArgumentResult r) => r.Tokens.Count == 1 ? r.Tokens[0].Value : string.Join(' ', r.Tokens.Select(t => t.Value));

    static int? ParseInt(string name, ArgumentResult r)
    {
        var s = Single(r);
        if (int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)) return v;
        r.AddError($"{name}: '{s}' is not an integer");
        return null;
    }

    static long? ParseLong(string name, ArgumentResult r)
    {
        var s = Single(r);
        if (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)) return v;
        r.AddError($"{name}: '{s}' is not an integer");
        return null;
    }

    static double? ParseDouble(string name, string s, ArgumentResult r)
    {
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) return v;
        r.AddError($"{name}: '{s}' is not a number");
        return null;
    }
}
