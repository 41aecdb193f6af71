using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Klear.Host.Tokenization;
using Parquet.Serialization;

namespace Klear.Host.Data;

/// <summary>
/// verl's parquet layout: <c>data_source</c> string, <c>prompt</c> list of {role, content}, <c>ability</c> string,
/// <c>reward_model</c> {ground_truth, style}, <c>extra_info</c> struct. The struct's fields differ between datasets, so
/// only <c>extra_info.response</c> (SFT targets) and <c>extra_info.index</c> are read from it when present.
/// </summary>
public static class VerlParquet
{
    public sealed class Message
    {
        [JsonPropertyName("role")] public string? Role { get; set; }
        [JsonPropertyName("content")] public string? Content { get; set; }
    }

    public sealed class RewardModel
    {
        [JsonPropertyName("ground_truth")] public string? GroundTruth { get; set; }
        [JsonPropertyName("style")] public string? Style { get; set; }
    }

    public sealed class Row
    {
        [JsonPropertyName("data_source")] public string? DataSource { get; set; }
        [JsonPropertyName("prompt")] public List<Message>? Prompt { get; set; }
        [JsonPropertyName("ability")] public string? Ability { get; set; }
        [JsonPropertyName("reward_model")] public RewardModel? RewardModel { get; set; }
    }

    public static IReadOnlyList<VerlRow> Load(string path)
    {
        IList<Row> rows;
        try
        {
            using var stream = File.OpenRead(path);
            rows = ParquetSerializer.DeserializeAsync<Row>(stream).GetAwaiter().GetResult().Data;
        }
        catch (Exception e) when (e is not FileNotFoundException)
        {
            throw new DataFormatException(path, 0, "(schema)", $"not a verl parquet file: {e.Message}");
        }
        return rows.Select((r, i) => ToRow(r, path, i + 1)).ToList();
    }

    static VerlRow ToRow(Row r, string file, int row)
    {
        var prompt = r.Prompt ?? throw new DataFormatException(file, row, "prompt", "missing");
        if (prompt.Count == 0) throw new DataFormatException(file, row, "prompt", "empty message list");
        return new VerlRow(
            r.DataSource ?? throw new DataFormatException(file, row, "data_source", "missing"),
            prompt.Select((m, i) => new ChatMessage(
                m.Role ?? throw new DataFormatException(file, row, $"prompt[{i}].role", "missing"),
                m.Content ?? throw new DataFormatException(file, row, $"prompt[{i}].content", "missing"))).ToList(),
            r.RewardModel?.GroundTruth ?? throw new DataFormatException(file, row, "reward_model.ground_truth", "missing"),
            r.Ability,
            null,
            $"{file}:{row}");
    }

    /// <summary>Writes rows in verl's layout (without extra_info), e.g. to hand the built-in task to verl.</summary>
    public static void Save(string path, IEnumerable<VerlRow> rows)
    {
        var data = rows.Select(r => new Row
        {
            DataSource = r.DataSource,
            Prompt = r.Prompt.Select(m => new Message { Role = m.Role, Content = m.Content }).ToList(),
            Ability = r.Ability,
            RewardModel = new RewardModel { GroundTruth = r.GroundTruth, Style = "rule" },
        }).ToList();
        using var stream = File.Create(path);
        ParquetSerializer.SerializeAsync(data, stream).GetAwaiter().GetResult();
    }
}
