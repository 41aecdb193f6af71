namespace Klear.Host.Data;

/// <summary>One column of a verl dataset: its name, its type (Arrow's for parquet, the JSON kinds seen for JSON Lines)
/// and what verl and Klear use it for.</summary>
public sealed record VerlColumn(string Name, string Type, string Role)
{
    /// <summary>The role of a top-level column in verl's layout.</summary>
    public static string RoleOf(string name) => name switch
    {
        "data_source" => "picks the reward function (required)",
        "prompt" => "the chat messages, {role, content} each (required)",
        "ability" => "task label (optional, not used for rewards)",
        "reward_model" => "ground_truth: the answer, or code tests as JSON text (required); style",
        "extra_info" => "free-form, kept with the row (optional)",
        _ => "not part of verl's layout (ignored)",
    };
}
