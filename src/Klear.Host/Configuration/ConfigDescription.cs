using System.ComponentModel;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Klear.Host.Configuration;

/// <summary>
/// The configuration as a reader wants it: YAML with every key, and above each a comment with its help, type and
/// default, all read from the config records (their <see cref="DescriptionAttribute"/>s and initial values), so it
/// cannot drift from what the binder accepts. The output binds back to the same configuration.
/// </summary>
public static class ConfigDescription
{
    /// <summary>The top-level section holding values implied by the settings; written for reading, skipped on load.</summary>
    public const string DerivedKey = "derived";

    static readonly JsonSerializerOptions Flow = new(ConfigBinder.Json) { WriteIndented = false };

    /// <summary>Every key of a record type as a dotted path with its property; list elements that are records list
    /// their fields as <c>key[].field</c>.</summary>
    public static IEnumerable<(string Key, PropertyInfo Property)> Keys(Type type, string prefix = "")
    {
        foreach (var (key, p) in ConfigBinder.Keys(type))
        {
            yield return (prefix + key, p);
            var nested = IsSection(p.PropertyType) ? p.PropertyType : ElementRecord(p.PropertyType);
            var sub = IsSection(p.PropertyType) ? $"{prefix}{key}." : $"{prefix}{key}[].";
            if (nested is not null)
                foreach (var k in Keys(nested, sub)) yield return k;
        }
    }

    /// <summary>The property's one-line help (empty when it has none, which a test forbids).</summary>
    public static string Help(PropertyInfo p) => p.GetCustomAttribute<DescriptionAttribute>()?.Description ?? "";

    public static string ToYaml<T>(T config, JsonObject? derived = null) where T : new()
    {
        var sb = new StringBuilder();
        Write(typeof(T), config!, new T(), 0, sb);
        if (derived is not null)
        {
            sb.Append($"# Implied by the settings above; for reading only (ignored when this file is loaded).\n{DerivedKey}:\n");
            WriteDerived(derived, 2, sb);
        }
        return sb.ToString();
    }

    static void Write(Type type, object value, object defaults, int indent, StringBuilder sb)
    {
        var pad = new string(' ', indent);
        foreach (var (key, p) in ConfigBinder.Keys(type))
        {
            var (v, d) = (p.GetValue(value), p.GetValue(defaults));
            if (IsSection(p.PropertyType))
            {
                sb.Append($"{pad}# {Help(p)}\n{pad}{key}:\n");
                Write(p.PropertyType, v!, d!, indent + 2, sb);
                continue;
            }
            sb.Append($"{pad}# {Help(p)} ({TypeName(p)}; default {Scalar(d)})\n");
            if (ElementRecord(p.PropertyType) is { } element)
                foreach (var (field, fp) in ConfigBinder.Keys(element))
                    sb.Append($"{pad}#   {field}: {Help(fp)} ({TypeName(fp)}; default {Scalar(fp.GetValue(Activator.CreateInstance(element)))})\n");
            sb.Append($"{pad}{key}: {Scalar(v)}\n");
        }
    }

    static void WriteDerived(JsonObject node, int indent, StringBuilder sb)
    {
        var pad = new string(' ', indent);
        foreach (var (key, value) in node)
        {
            if (value is JsonObject o)
            {
                sb.Append($"{pad}{key}:\n");
                WriteDerived(o, indent + 2, sb);
            }
            else sb.Append($"{pad}{key}: {(value is null ? "null" : value.ToJsonString())}\n");
        }
    }

    /// <summary>A value in YAML's flow style (JSON is a subset of it), as the binder reads it back.</summary>
    static string Scalar(object? value) => value is null ? "null" : JsonSerializer.Serialize(value, value.GetType(), Flow);

    static bool IsSection(Type t) => ConfigBinder.IsRecord(t);

    static Type? ElementRecord(Type t) =>
        t.IsGenericType && t.GetGenericTypeDefinition() == typeof(List<>) && ConfigBinder.IsRecord(t.GetGenericArguments()[0])
            ? t.GetGenericArguments()[0] : null;

    static readonly NullabilityInfoContext Nullability = new();

    /// <summary>The key's type as a YAML reader sees it; reference types declared nullable (string?) say so.</summary>
    static string TypeName(PropertyInfo p) =>
        TypeName(p.PropertyType) + (!p.PropertyType.IsValueType && Nullability.Create(p).WriteState is NullabilityState.Nullable ? " or null" : "");

    static string TypeName(Type t)
    {
        if (Nullable.GetUnderlyingType(t) is { } inner) return TypeName(inner) + " or null";
        if (t == typeof(int) || t == typeof(long)) return "int";
        if (t == typeof(double)) return "float";
        if (t == typeof(bool)) return "bool";
        if (t == typeof(string)) return "string";
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Dictionary<,>))
            return $"map of {TypeName(t.GetGenericArguments()[0])} to {TypeName(t.GetGenericArguments()[1])}";
        if (ElementRecord(t) is { } e) return $"list of {{{string.Join(", ", ConfigBinder.Keys(e).Select(k => k.Key))}}}";
        return t.Name;
    }
}
