namespace Klear.Host.Configuration;

/// <summary>A bad configuration file or override; the message names the key.</summary>
public sealed class ConfigException(string message) : Exception(message)
{
    /// <summary>A name that is not one of <paramref name="valid"/>: names the key, the nearest valid name and all of
    /// them (the same nearest-match as for unknown keys).</summary>
    public static ConfigException UnknownName(string key, string? value, IEnumerable<string> valid)
    {
        var names = valid.ToList();
        var nearest = ConfigBinder.Nearest(value ?? "", names);
        var hint = nearest is null ? "" : $"; did you mean '{nearest}'?";
        return new ConfigException($"{key}: unknown '{value}'{hint} (valid: {string.Join(", ", names)})");
    }
}
