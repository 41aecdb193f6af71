using Klear.Host.Configuration;
using Klear.Host.Cli;

// The `klear` command line: dispatch on the leading words, exit 2 on a usage error.
ICommand[] commands =
[
    new QuickstartCommand(),
    new TrainCommand(),
    new ConfigShowCommand(),
    new EvalCommand(),
    new ChartCommand(),
    new DataExportCommand(),
    new SyntheticCodeCommand(),
    new LossInspectCommand(),
    new LossTableCommand(),
    new LossBenchCommand(),
    new ModelLogitsCommand(),
    new ModelBenchCommand(),
    new VerifyMathCommand(),
    new VerifyBenchCommand(),
    new SandboxRunCommand(),
    new SandboxBenchCommand(),
];

var match = commands
    .Select(c => (c, words: c.Name.Split(' ')))
    .Where(m => m.words.Length <= args.Length && m.words.SequenceEqual(args.Take(m.words.Length)))
    .OrderByDescending(m => m.words.Length)
    .FirstOrDefault();

if (match.c is null)
{
    var asked = args.Length == 0 || args[0] is "help" or "--help" or "-h";
    var shown = asked ? "" : $"unknown command '{string.Join(' ', args.TakeWhile(a => !a.StartsWith("--")))}'\n\n";
    Console.Error.WriteLine($"{shown}usage: klear <command> [--option value ...]\n\ncommands:");
    foreach (var c in commands) Console.Error.WriteLine($"  {c.Name,-20} {c.Summary}");
    return asked ? 0 : 2;
}

try
{
    var options = new CliArgs(args.Skip(match.words.Length));
    return match.c.Run(options);
}
catch (Exception e) when (e is UsageException or ConfigException or Klear.Host.Data.DataFormatException
                           or FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
{
    // Bad input (arguments, config keys, data rows, files): a message naming it, no stack trace.
    Console.Error.WriteLine($"klear {match.c.Name}: {e.Message}");
    return 2;
}
