using Klear.Host.Configuration;
using Klear.Host.Tokenization;
using System.Text.Json.Nodes;
using Klear.Host.Data;

namespace Klear.Host.Training;

/// <summary>The built-in arithmetic task as a training task: SFT traces from a teacher, RL prompts and a fixed
/// held-out set, each split drawn from its own seed stream; evaluation problems never appear in training draws.</summary>
public sealed class ArithmeticTrainingTask : ITrainingTask
{
    readonly long _seed;
    readonly DataConfig _config;
    readonly TeacherSource[] _teachers;
    readonly double[] _teacherWeights;
    readonly HashSet<string> _heldOut;

    public ArithmeticTrainingTask(long seed, DataConfig config)
    {
        _seed = seed;
        _config = config;
        if (config.Teachers.Count == 0 || config.Teachers.Any(t => !(t.Weight > 0) || t.WrongShare is < 0 or > 1))
            throw new ConfigException("data.teachers: give at least one teacher, each with weight > 0 and wrong_share in [0, 1]");
        _teachers = config.Teachers.Select(t => new TeacherSource(t.Name, t.WrongShare)).ToArray();
        _teacherWeights = config.Teachers.Select(t => t.Weight).ToArray();
        var eval = new List<VerlRow>();
        _heldOut = new HashSet<string>(StringComparer.Ordinal);
        for (long i = 0; eval.Count < config.EvalProblems; i++)
        {
            var p = ArithmeticTask.Problem(seed, "eval", i, config.RlOperands);
            if (_heldOut.Add(p.Expression)) eval.Add(Row(p, "eval", i));
        }
        EvalSet = eval;
    }

    public string Name => "arithmetic";
    public IReadOnlyList<VerlRow> EvalSet { get; }

    public string RenderPrompt(VerlRow row) => row.Prompt[^1].Content;

    /// <summary>Draw <paramref name="index"/> of a split, skipping held-out expressions (sub-draws keep it deterministic).</summary>
    ArithmeticProblem Draw(string split, long index, IReadOnlyDictionary<int, double> operands)
    {
        for (long attempt = 0; ; attempt++)
        {
            var p = ArithmeticTask.Problem(_seed, attempt == 0 ? split : $"{split}/retry{attempt}", index, operands);
            if (!_heldOut.Contains(p.Expression)) return p;
        }
    }

    public SftExample SftExample(long index) => Example("sft", "teacher", index);

    public long? SftCount => null;

    /// <summary>Traces of the same teachers on their own stream: the training distribution, never trained on.</summary>
    public IReadOnlyList<SftExample> SftValidationSet(int max) =>
        Enumerable.Range(0, max).Select(i => Example("sft-val", "teacher-val", i)).ToList();

    SftExample Example(string split, string teacherStream, long index)
    {
        var p = Draw(split, index, _config.SftOperands);
        var rng = SeedSequence.Random(_seed, teacherStream, index);
        var u = rng.NextDouble() * _teacherWeights.Sum();
        int t = 0;
        while (t < _teachers.Length - 1 && u >= _teacherWeights[t]) u -= _teacherWeights[t++];
        return new SftExample(p.Prompt, ArithmeticTask.TeacherTrace(p, _teachers[t], rng));
    }

    public VerlRow RlPrompt(long index) => Row(Draw("rl", index, _config.RlOperands), "rl", index);

    static VerlRow Row(ArithmeticProblem p, string split, long index) => new(
        ArithmeticTask.DataSource,
        [new ChatMessage("user", p.Prompt)],
        p.Answer.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "math",
        new JsonObject { ["split"] = split, ["index"] = index, ["operands"] = p.Operands.Length },
        $"arithmetic:{split}:{index}");
}
