using Klear.Host.Data;

namespace Klear.Host.Cli;

/// <summary><c>klear data synthetic-code --out FILE.jsonl</c>: writes the synthetic code task as verl-format rows (parquet when FILE ends in .parquet).</summary>
public sealed class SyntheticCodeCommand : ICommand
{
    public string Name => "data synthetic-code";
    public string Summary => "write the synthetic stdin/stdout code task as verl JSONL or .parquet (--out, --count, --seed, --split)";

    public int Run(CliArgs args)
    {
        var output = args.RequiredString("out");
        var count = args.Int("count", 256);
        var seed = args.Int("seed", 0);
        var split = args.String("split") ?? "train";
        args.RejectUnknown();
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
