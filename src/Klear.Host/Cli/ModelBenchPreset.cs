using Klear.Host.Model;

namespace Klear.Host.Cli;

/// <summary>
/// The sizes <c>model bench</c> measures at: the model, the training batch and the generation work. Explicit options
/// override a preset's values.
/// </summary>
public sealed record ModelBenchPreset(string Name, Qwen3Config Config, int Batch, int Seq, int Prompt, int NewTokens, int NoCacheTokens)
{
    /// <summary>The quickstart: its tiny model, its SFT batch (128 sequences; 48 tokens, the bench's fixed length for
    /// its ~40-token padded rows) and rollouts of its length (a short prompt, 36 new tokens).</summary>
    public static ModelBenchPreset Quickstart { get; } = new("quickstart", Qwen3Config.Tiny(), 128, 48, 12, 36, 36);

    /// <summary>A larger model of the same family: 4 × 256, GQA 4/2 heads, vocab 512, 16 sequences of 256.</summary>
    public static ModelBenchPreset Bench { get; } = new("bench", Qwen3Config.Bench() with { MaxPositionEmbeddings = 4096 }, 16, 256, 16, 256, 256);

    public static IReadOnlyList<ModelBenchPreset> All { get; } = [Bench, Quickstart];

    public static ModelBenchPreset? Find(string name) => All.FirstOrDefault(p => p.Name == name);
}
