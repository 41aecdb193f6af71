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

    public SyntheticCodeCommand() : base("data synthetic-code", "write the synthetic stdin/stdout code task as verl JSONL or .parquet")
    {
        foreach (var option in new Option[] { _out, _count, _seed, _split }) Add(option);
    }

    protected override int Run(ParseResult parsed)
    {
        var output = parsed.GetRequiredValue(_out);
        var count = parsed.GetValue(_count);
        var seed = parsed.GetValue(_seed);
        var split = parsed.GetRequiredValue(_split);
        if (count < 1) throw new UsageException("--count must be positive");
        var dir = Path.GetDirectoryName(Path.GetFullPath(output))!;
        if (!Directory.Exists(dir)) throw new UsageException($"--out: no such directory '{dir}'");
        var problems = SyntheticCodeTask.Generate(seed, count);
        if (output.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
            VerlParquet.Save(output, problems.Select((p, i) => VerlDataset.Parse(SyntheticCodeTask.ToVerlRow(p, split), output, i + 1)));
        else SyntheticCodeTask.WriteJsonl(output, problems, split);
        Console.WriteLine($"wrote {count} {SyntheticCodeTask.DataSource} problems (seed {seed}, split {split}) to {output}");
        return 0;
    }
}
