using System.Globalization;

namespace Klear.Host.Cli;

/// <summary>
/// The options of one command: <c>--name value</c> pairs and <c>--flag</c> switches. Every option must be read by the
/// command (or declared as known), so a misspelt option is an error naming it instead of being ignored.
/// </summary>
public sealed class CliArgs
{
    readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    readonly HashSet<string> _read = new(StringComparer.Ordinal);
    readonly List<string> _overrides = [];
    bool _overridesRead;

    /// <summary>The <c>key.sub_key=value</c> config overrides, in order.</summary>
    public IReadOnlyList<string> Overrides { get { _overridesRead = true; return _overrides; } }

    public CliArgs(IEnumerable<string> args)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) && a.Contains('='))
            {
                _overrides.Add(a);       // verl-style config override: key.sub_key=value
                continue;
            }
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2)
                throw new UsageException($"unexpected argument '{a}' (options look like --name value)");
            var eq = a.IndexOf('=');
            string name; string? value;
            if (eq > 0) { name = a[2..eq]; value = a[(eq + 1)..]; }
            else
            {
                name = a[2..];
                // A following token that is not itself an option is this option's value (negative numbers included).
                value = i + 1 < list.Count && !IsOptionName(list[i + 1]) ? list[++i] : null;
            }
            if (!_values.TryAdd(name, value)) throw new UsageException($"option --{name} given twice");
        }
    }

    static bool IsOptionName(string s) =>
        s.StartsWith("--", StringComparison.Ordinal) && s.Length > 2 && !char.IsDigit(s[2]) && s[2] != '.';

    public bool Has(string name) { _read.Add(name); return _values.ContainsKey(name); }

    public bool Flag(string name)
    {
        if (!Has(name)) return false;
        var v = _values[name];
        return v is null || v is "true" or "1" ? true
            : v is "false" or "0" ? false
            : throw new UsageException($"--{name}: expected true or false, got '{v}'");
    }

    public string? String(string name)
    {
        if (!Has(name)) return null;
        return _values[name] ?? throw new UsageException($"--{name} needs a value");
    }

    public string RequiredString(string name) => String(name) ?? throw new UsageException($"missing required option --{name}");

    public double Double(string name, double fallback) => String(name) is { } s ? ParseDouble(name, s) : fallback;

    public double? OptionalDouble(string name) => String(name) is { } s ? ParseDouble(name, s) : null;

    public int Int(string name, int fallback)
    {
        var s = String(name);
        if (s is null) return fallback;
        return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v : throw new UsageException($"--{name}: '{s}' is not an integer");
    }

    public double[] DoubleList(string name) =>
        RequiredString(name).Split(',', StringSplitOptions.TrimEntries).Select(s => ParseDouble(name, s)).ToArray();

    static double ParseDouble(string name, string s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
            ? v : throw new UsageException($"--{name}: '{s}' is not a number");

    /// <summary>Throws naming any option the command never looked at.</summary>
    public void RejectUnknown()
    {
        if (_overrides.Count > 0 && !_overridesRead)
            throw new UsageException($"this command takes no config overrides, got '{_overrides[0]}'");
        var unknown = _values.Keys.Where(k => !_read.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new UsageException($"unknown option{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown.Select(u => "--" + u))}");
    }
}
