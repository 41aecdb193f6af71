using System.CommandLine;
using System.Globalization;
using System.Text;
using Klear.Host.Checkpoints;
using Klear.Host.Model;
using TorchSharp;

namespace Klear.Host.Cli;

/// <summary>
/// <c>model logits --model DIR --input-ids 1,2,3</c>: one JSON object <c>{"logits": [[...], ...]}</c>, a row of fp32
/// vocabulary logits per input position, so any HF directory can be checked against an independent implementation.
/// </summary>
public sealed class ModelLogitsCommand : KlearCommand
{
    readonly Option<string> _model = CliOption.Text("--model", "Hugging Face Qwen3 model directory", required: true);
    readonly Option<string> _inputIds = CliOption.Text("--input-ids", "comma-separated token ids, e.g. 1,2,3", required: true);

    public ModelLogitsCommand() : base("model logits", "print the logits of a Hugging Face Qwen3 directory for --input-ids as JSON")
    {
        Add(_model);
        Add(_inputIds);
    }

    protected override int Run(ParseResult parsed)
    {
        var directory = parsed.GetRequiredValue(_model);
        var idsText = parsed.GetRequiredValue(_inputIds);
        if (!Directory.Exists(directory)) throw new UsageException($"--model: directory '{directory}' not found");
        var ids = ParseIds(idsText);

        Qwen3ForCausalLM model;
        try { model = HfCheckpoint.Load(directory); }
        catch (CheckpointException e) { throw new UsageException(e.Message); }
        using var disposeModel = model;
        var vocab = model.Config.VocabSize;
        foreach (var id in ids)
            if (id < 0 || id >= vocab) throw new UsageException($"--input-ids: token {id} is outside the vocabulary [0, {vocab})");

        model.eval();
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var input = torch.tensor(ids, [1, ids.Length]);                      // [1, T]
        var logits = model.forward(new CausalLMInput(input)).squeeze(0);     // [T, V]
        var values = logits.contiguous().data<float>().ToArray();

        var json = new StringBuilder("{\"logits\": [");
        for (int t = 0; t < ids.Length; t++)
        {
            json.Append(t == 0 ? "[" : ", [");
            for (int v = 0; v < vocab; v++)
            {
                if (v > 0) json.Append(", ");
                var x = values[t * vocab + v];
                json.Append(float.IsFinite(x) ? x.ToString("R", CultureInfo.InvariantCulture) : "null");
            }
            json.Append(']');
        }
        Console.Out.WriteLine(json.Append("]}").ToString());
        return 0;
    }

    static long[] ParseIds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length == 0 || parts.Any(p => p.Length == 0)) throw new UsageException($"--input-ids: '{text}' is not a comma-separated list of token ids");
        return parts.Select(p => long.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v : throw new UsageException($"--input-ids: '{p}' is not an integer")).ToArray();
    }
}
