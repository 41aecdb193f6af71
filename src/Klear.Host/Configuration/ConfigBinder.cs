using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using YamlDotNet.RepresentationModel;

namespace Klear.Host.Configuration;

/// <summary>
/// Binds a YAML file plus verl-style dotted overrides (<c>actor.clip_ratio_high=0.28</c>) onto a tree of config
/// records whose properties are named in snake_case. Anything not given keeps the record's default. Unknown keys are
/// errors naming the key and the nearest valid one; a value of the wrong type is an error naming the key.
/// </summary>
public static class ConfigBinder
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    /// <param name="recipe">Overrides of the built-in defaults that a command brings (the quickstart's recipe): the
    /// YAML file and the overrides both apply over them.</param>
    public static T Bind<T>(string? yamlPath, IEnumerable<string> overrides, IEnumerable<string>? recipe = null) where T : new()
    {
        var root = new JsonObject();
        foreach (var o in recipe ?? []) ApplyOverride(root, o);
        if (yamlPath is not null) Merge(root, LoadYaml(yamlPath));
        // What a run recorded as implied by its settings (ConfigDescription.DerivedKey) is output, not input.
        root.Remove(ConfigDescription.DerivedKey);
        foreach (var o in overrides) ApplyOverride(root, o);
        CheckKeys(typeof(T), root, "");
        try { return root.Deserialize<T>(Json) ?? new T(); }
        catch (JsonException e)
        {
            var key = (e.Path ?? "$").TrimStart('$').TrimStart('.');
            throw new ConfigException($"config key '{key}': {FirstSentence(e.Message)}");
        }
    }

    /// <summary>The resolved configuration as YAML, every key included (what a checkpoint keeps).</summary>
    public static string ToYaml<T>(T config)
    {
        var sb = new StringBuilder();
        WriteYaml(JsonSerializer.SerializeToNode(config, Json)!, 0, sb);
        return sb.ToString();
    }

    /// <summary>The properties bound as keys of a record type, by key, in declaration order.</summary>
    internal static IEnumerable<(string Key, PropertyInfo Property)> Keys(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .Select(p => (JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name), p));

    static string FirstSentence(string m) => m.Split(". Path:")[0];

    static JsonObject LoadYaml(string path)
    {
        if (!File.Exists(path)) throw new ConfigException($"config file not found: {path}");
        var stream = new YamlStream();
        try { using var reader = new StreamReader(path); stream.Load(reader); }
        catch (YamlDotNet.Core.YamlException e) { throw new ConfigException($"{path}: {e.Message}"); }
        if (stream.Documents.Count == 0) return new JsonObject();
        return ToJson(stream.Documents[0].RootNode, path) as JsonObject
            ?? throw new ConfigException($"{path}: the top level must be a mapping of keys");
    }

    /// <summary>Writes <paramref name="over"/> into <paramref name="into"/>: sections merge key by key, values replace.</summary>
    static void Merge(JsonObject into, JsonObject over)
    {
        foreach (var (key, value) in over.ToList())
        {
            if (value is JsonObject section && into[key] is JsonObject existing) Merge(existing, section);
            else into[key] = value?.DeepClone();
        }
    }

    static JsonNode? ToJson(YamlNode node, string where) => node switch
    {
        YamlMappingNode m => new JsonObject(m.Children.Select(kv =>
            KeyValuePair.Create(((YamlScalarNode)kv.Key).Value ?? "", ToJson(kv.Value, where)))),
        YamlSequenceNode s => new JsonArray(s.Children.Select(c => ToJson(c, where)).ToArray()),
        YamlScalarNode sc => Scalar(sc.Value ?? "", sc.Style is YamlDotNet.Core.ScalarStyle.Plain),
        _ => throw new ConfigException($"{where}: unsupported YAML node at {node.Start}"),
    };

    /// <summary>YAML's plain scalars: null, booleans and numbers are typed; everything else is a string.</summary>
    static JsonNode? Scalar(string text, bool plain)
    {
        if (!plain) return JsonValue.Create(text);
        if (text is "" or "~" or "null") return null;
        if (text is "true" or "True") return JsonValue.Create(true);
        if (text is "false" or "False") return JsonValue.Create(false);
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)) return JsonValue.Create(l);
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return JsonValue.Create(d);
        return JsonValue.Create(text);
    }

    static void ApplyOverride(JsonObject root, string assignment)
    {
        var eq = assignment.IndexOf('=');
        if (eq <= 0) throw new ConfigException($"override '{assignment}' must look like key.sub_key=value");
        var path = assignment[..eq].Trim().Split('.');
        var text = assignment[(eq + 1)..].Trim();
        JsonNode? value;
        if (text.StartsWith('[') || text.StartsWith('{'))
        {
            var stream = new YamlStream();
            try { stream.Load(new StringReader(text)); }
            catch (YamlDotNet.Core.YamlException e) { throw new ConfigException($"override '{assignment}': {e.Message}"); }
            value = ToJson(stream.Documents[0].RootNode, "override");
        }
        else value = Scalar(text, plain: true);
        var node = root;
        foreach (var key in path[..^1])
        {
            if (node[key] is not JsonObject child) node[key] = child = new JsonObject();
            node = child;
        }
        node[path[^1]] = value;
    }

    /// <summary>Walks the JSON tree against the record types: unknown keys fail with the nearest valid key, and
    /// numbers given where a string is expected become strings.</summary>
    static void CheckKeys(Type type, JsonObject obj, string prefix)
    {
        var props = Keys(type).ToDictionary(k => k.Key, k => k.Property);
        foreach (var (key, value) in obj.ToList())
        {
            var full = prefix + key;
            if (!props.TryGetValue(key, out var prop))
            {
                var nearest = Nearest(key, props.Keys);
                throw new ConfigException($"unknown config key '{full}'" + (nearest is null ? "" : $"; did you mean '{prefix}{nearest}'?"));
            }
            // An empty section (YAML "actor:" with nothing under it) keeps its defaults; otherwise only keys declared
            // nullable (string?, double?) may be null: a null name would fail deep inside a run.
            if (value is null && IsRecord(prop.PropertyType)) { obj.Remove(key); continue; }
            if (value is null && !prop.PropertyType.IsValueType && NullabilityOf.Create(prop).WriteState is not NullabilityState.Nullable)
                throw new ConfigException($"config key '{full}' cannot be null");
            var t = Nullable.GetUnderlyingType(prop.PropertyType) ?? prop.PropertyType;
            if (t == typeof(string) && value is JsonValue v && v.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
                obj[key] = JsonValue.Create(v.ToJsonString());
            else if (IsRecord(t))
            {
                if (value is JsonObject child) CheckKeys(t, child, full + ".");
                else if (value is not null) throw new ConfigException($"config key '{full}' is a section; give its keys (e.g. {full}.<key>=...)");
            }
        }
    }

    static readonly NullabilityInfoContext NullabilityOf = new();

    internal static bool IsRecord(Type t) =>
        t.IsClass && t != typeof(string) && !typeof(System.Collections.IEnumerable).IsAssignableFrom(t);

    /// <summary>The candidate closest to <paramref name="text"/> by edit distance, ties going to the longer common
    /// prefix (a typo rarely hits the first letter: 'gpo' means 'gppo', not 'ppo'); null when there is none.</summary>
    public static string? Nearest(string text, IEnumerable<string> candidates) =>
        candidates.OrderBy(k => Levenshtein(k, text)).ThenByDescending(k => CommonPrefix(k, text)).FirstOrDefault();

    static int CommonPrefix(string a, string b)
    {
        int n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return n;
    }

    static int Levenshtein(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }

    static void WriteYaml(JsonNode node, int indent, StringBuilder sb)
    {
        var pad = new string(' ', indent);
        foreach (var (key, value) in node.AsObject())
        {
            if (value is JsonObject o && o.Count > 0)
            {
                sb.Append(pad).Append(key).Append(":\n");
                WriteYaml(o, indent + 2, sb);
            }
            else sb.Append(pad).Append(key).Append(": ").Append(value is null ? "null" : value.ToJsonString()).Append('\n');
        }
    }
}
