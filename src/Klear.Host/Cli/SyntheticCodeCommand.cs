using System.CommandLine;
using Klear.Host.Data;

namespace Klear.Host.Cli;

/// <summary><c>klear data synthetic-code --out FILE.jsonl</c>: writes the synthetic code task as verl-format rows (parquet when FILE ends in .parquet).</summary>
public sealed class SyntheticCodeCommand : KlearCommand
{
    readonly Option<string> _out = CliOption.Text("--out", "output file: verl JSONL, or parquet when it ends in .parquet", required: true);
    readonly Option<int> _count = CliOption.Int("--count", "problems", 256);
    readonly Option<int> _seed = CliOption.Int("--seed", "generator seed", 0);
    readonly Option<string> _split = CliOption.Text("--split", "extra_info.split of every row", "train");
    readonly Option<double> _wrongTests = CliOption.Double("--wrong-tests-share",
        "share P of problems given wrong tests: exactly round(P × count) problems, chosen by the seed, in which a quarter " +
        "of the tests (at least one) expect the right answer ±1, as a reference solution with an off-by-one bug leaves " +
        "them; the statement and the teacher's program stay right, so that program fails exactly those tests. Every row " +
        "says which in extra_info.wrong_tests (true/false) and extra_info.wrong_test_indices", 0);

    public SyntheticCodeCommand() : base("data synthetic-code", "write the synthetic stdin/stdout code task as verl JSONL or .parquet")
    {
        foreach (var option in new Option[] { _out, _count, _seed, _split, _wrongTests }) Add(option);
    }

    protected override bool UsesTorch => false;

    protected override int Run(ParseResult parsed)
    {
        var output = parsed.GetRequiredValue(_out);
        var count = parsed.GetValue(_count);
        var seed = parsed.GetValue(_seed);
        var split = parsed.GetRequiredValue(_split);
        var wrongShare = parsed.GetValue(_wrongTests);
        if (count < 1) throw new UsageException("--count must be positive");
        if (!(wrongShare >= 0 && wrongShare <= 1)) throw new UsageException($"--wrong-tests-share must be in [0, 1], got {wrongShare}");
        var dir = Path.GetDirectoryName(Path.GetFullPath(output))!;
        if (!Directory.Exists(dir)) throw new UsageException($"--out: no such directory '{dir}'");
        var problems = SyntheticCodeTask.Generate(seed, count, wrongShare);
        if (output.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
            VerlParquet.Save(output, problems.Select((p, i) => VerlDataset.Parse(SyntheticCodeTask.ToVerlRow(p, split), output, i + 1)));
        else SyntheticCodeTask.WriteJsonl(output, problems, split);
        var wrong = problems.Count(p => p.HasWrongTests);
        Console.WriteLine($"wrote {count} {SyntheticCodeTask.DataSource} problems (seed {seed}, split {split}" +
                          (wrongShare > 0 ? $", {wrong} with wrong tests" : "") + $") to {output}");
        return 0;
    }
}
