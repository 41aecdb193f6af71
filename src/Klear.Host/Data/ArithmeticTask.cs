namespace Klear.Host.Data;

/// <summary>
/// The built-in reasoning task: running add/subtract chains with operands 0–99. Prompt <c>Q:37+48-12=</c>, teacher
/// response <c>&lt;think&gt;37+48=85;85-12=73&lt;/think&gt;\boxed{73}</c>. Difficulty is the number of operands.
/// Problem i of a split depends only on (seed, split, i), so splits are reproducible and disjoint by construction
/// of their purposes; held-out problems are also filtered out of training draws by expression.
/// </summary>
public static class ArithmeticTask
{
    public const string DataSource = "klear/arithmetic";
    public const int MaxOperand = 99;

    public static ArithmeticProblem Generate(Random rng, int operandCount)
    {
        if (operandCount < 2) throw new ArgumentOutOfRangeException(nameof(operandCount), operandCount, "at least 2 operands");
        var operands = new int[operandCount];
        var ops = new char[operandCount - 1];
        operands[0] = rng.Next(0, MaxOperand + 1);
        int total = operands[0];
        for (int i = 1; i < operandCount; i++)
        {
            var x = rng.Next(0, MaxOperand + 1);
            // Subtract only while the total stays >= 0, so no '-' sign ever appears in a result.
            var subtract = x <= total && rng.Next(2) == 0;
            ops[i - 1] = subtract ? '-' : '+';
            operands[i] = x;
            total += subtract ? -x : x;
        }
        return new ArithmeticProblem(operands, ops);
    }

    /// <summary>Problem <paramref name="index"/> of <paramref name="split"/>, with operand count drawn from
    /// <paramref name="operandWeights"/> (operand count → relative weight).</summary>
    public static ArithmeticProblem Problem(long seed, string split, long index, IReadOnlyDictionary<int, double> operandWeights)
    {
        var rng = SeedSequence.Random(seed, "arithmetic/" + split, index);
        return Generate(rng, Draw(rng, operandWeights));
    }

    static int Draw(Random rng, IReadOnlyDictionary<int, double> weights)
    {
        var total = weights.Values.Sum();
        if (weights.Count == 0 || !(total > 0)) throw new ArgumentException("operand weights must be positive", nameof(weights));
        var u = rng.NextDouble() * total;
        foreach (var (count, w) in weights.OrderBy(kv => kv.Key))
        {
            if (u < w) return count;
            u -= w;
        }
        return weights.Keys.Max();
    }

    /// <summary>The teacher's trace. A wrong trace (probability <see cref="TeacherSource.WrongShare"/>) slips by
    /// 1–9 at one random step and carries the error on, as a real teacher's mistake would.</summary>
    public static string TeacherTrace(ArithmeticProblem p, TeacherSource source, Random rng)
    {
        var slipAt = rng.NextDouble() < source.WrongShare ? rng.Next(p.Operators.Length) : -1;
        var steps = new List<string>();
        int total = p.Operands[0];
        for (int i = 0; i < p.Operators.Length; i++)
        {
            var before = total;
            total = p.Operators[i] == '+' ? total + p.Operands[i + 1] : total - p.Operands[i + 1];
            if (i == slipAt)
            {
                var slip = rng.Next(1, 10);
                total = total >= slip && rng.Next(2) == 0 ? total - slip : total + slip;
            }
            steps.Add($"{before}{p.Operators[i]}{p.Operands[i + 1]}={total}");
        }
        return $"<think>{string.Join(';', steps)}</think>\\boxed{{{total}}}";
    }
}
