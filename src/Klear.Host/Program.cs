using Klear.Host.Cli;
using Klear.Host.Model;

NativeHeap.KeepFreedPages();

// The `klear` command line, main job first: the order here is the order `klear --help` lists them in.
return KlearCli.Run(args,
[
    new QuickstartCommand(),
    new TrainCommand(),
    new EvalCommand(),
    new ConfigShowCommand(),
    new ChartCommand(),
    new DataExportCommand(),
    new SyntheticCodeCommand(),
    new FilterPassRateCommand(),
    new DataInspectCommand(),
    new LossInspectCommand(),
    new LossTableCommand(),
    new LossBenchCommand(),
    new ModelInitCommand(),
    new ModelLogitsCommand(),
    new ModelBenchCommand(),
    new TokenizeCommand(),
    new ModelMemoryCommand(),
    new VerifyMathCommand(),
    new VerifyBenchCommand(),
    new SandboxRunCommand(),
    new SandboxBenchCommand(),
]);
