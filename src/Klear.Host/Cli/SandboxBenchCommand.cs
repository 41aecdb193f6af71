using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Klear.Host.Rewards.Sandbox;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear sandbox bench</c>: sandboxed executions per second of a trivial program through the pool, in cold and warm
/// mode, against the same program run bare with the same concurrency. Rounds interleave the variants because the
/// machine is shared and noisy; medians are reported, and CPU seconds per execution too (children's and ours), which
/// other users' load distorts far less than wall time. The load average is printed with the figures.
/// </summary>
public sealed class SandboxBenchCommand : KlearCommand
{
    const string Program = "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n";

    readonly Option<int> _runs = CliOption.Int("--runs", "executions per round and variant", 200);
    readonly Option<int> _rounds = CliOption.Int("--rounds", "rounds, interleaving the variants (medians are reported)", 3);
    readonly Option<int> _workers = CliOption.Int("--workers", "concurrent executions", Environment.ProcessorCount);
    readonly Option<bool> _cpuSplit = CliOption.Flag("--cpu-split", "also print host and children CPU seconds per batch");
    readonly Option<string> _mode = CliOption.Choice("--mode", "sandbox mode(s) to measure", "both", "warm", "cold", "both");

    public SandboxBenchCommand() : base("sandbox bench", "exec/s of a trivial program, sandboxed (warm, cold) vs bare python3")
    {
        foreach (var option in new Option[] { _runs, _rounds, _workers, _cpuSplit, _mode }) Add(option);
    }

    protected override bool UsesTorch => false;

    protected override int Run(ParseResult parsed)
    {
        var runs = parsed.GetValue(_runs);
        var rounds = parsed.GetValue(_rounds);
        var workers = parsed.GetValue(_workers);
        var split = parsed.GetValue(_cpuSplit);
        var modeText = parsed.GetRequiredValue(_mode);
        if (runs < 1 || rounds < 1 || workers < 1) throw new UsageException("--runs, --rounds and --workers must be positive");
        SandboxMode[] modes = modeText == "both"
            ? [SandboxMode.Cold, SandboxMode.Warm]
            : [SandboxModeNames.Parse(modeText) ?? throw new UsageException($"--mode: expected {SandboxModeNames.Valid} or both, got '{modeText}'")];

        var sandboxes = new List<(PythonSandbox Sandbox, SandboxPool Pool)>();
        var bareProgram = Path.Combine(Path.GetTempPath(), $"klear-bench-{Environment.ProcessId}.py");
        try
        {
            foreach (var mode in modes)
            {
                var sandbox = new PythonSandbox(mode: mode);
                sandboxes.Add((sandbox, new SandboxPool(sandbox, workers)));
            }
            File.WriteAllText(bareProgram, Program);
            var python = sandboxes[0].Sandbox.Limits.PythonPath;
            var inputs = Enumerable.Range(0, runs).Select(i => $"{i} {i + 1} {i + 2}\n").ToArray();
            // Warm-up: page cache, JIT, first cgroups, the warm workers.
            foreach (var (_, pool) in sandboxes) Sandboxed(pool, inputs.Take(workers * 2).ToArray());
            Bare(python, bareProgram, inputs.Take(workers * 2).ToArray(), workers);
            Console.WriteLine($"load before: {LoadAverage()}");
            var sandboxed = sandboxes.Select(_ => new List<(double Wall, double Cpu)>()).ToArray();
            var bare = new List<(double Wall, double Cpu)>();
            string PerRun((double Wall, double Cpu) m) => $"{runs / m.Wall:F1} exec/s ({m.Cpu / runs * 1000:F1} ms CPU each)";
            for (int r = 0; r < rounds; r++)
            {
                var line = new List<string>();
                for (int i = 0; i < sandboxes.Count; i++)
                {
                    var pool = sandboxes[i].Pool;
                    var workersCpu = sandboxes[i].Sandbox.IdleWorkersCpuSeconds();
                    var m = Measure(() => Sandboxed(pool, inputs), split);
                    sandboxed[i].Add((m.Wall, m.Cpu + sandboxes[i].Sandbox.IdleWorkersCpuSeconds() - workersCpu));
                    line.Add($"{sandboxes[i].Sandbox.Mode.ToString().ToLowerInvariant()} {PerRun(sandboxed[i][^1])}");
                }
                bare.Add(Measure(() => Bare(python, bareProgram, inputs, workers), split));
                line.Add($"bare {PerRun(bare[^1])}");
                Console.WriteLine($"round {r + 1}: {string.Join(", ", line)}");
            }
            var (b, bc) = (Median(bare.Select(x => x.Wall)), Median(bare.Select(x => x.Cpu)));
            Console.WriteLine($"bare python3: {runs / b:F1} exec/s, {bc / runs * 1000:F1} ms CPU per execution ({workers} workers)");
            for (int i = 0; i < sandboxes.Count; i++)
            {
                var sb = sandboxes[i].Sandbox;
                var (s, sc) = (Median(sandboxed[i].Select(x => x.Wall)), Median(sandboxed[i].Select(x => x.Cpu)));
                var name = sb.Mode.ToString().ToLowerInvariant();
                Console.WriteLine($"{name}: {runs / s:F1} exec/s, {sc / runs * 1000:F1} ms CPU per execution " +
                                  $"(cgroups {(sb.UsesCgroups ? "on" : "off")}{(sb.Mode == SandboxMode.Warm ? $", {sb.WorkersStarted} workers started, {sb.ColdReruns} cold re-runs" : "")})");
                if (sb.LastWorkerFailure is { } failure) Console.WriteLine($"{name}: last worker failure: {failure}");
                Console.WriteLine($"{name} overhead: {s / b:F2}x bare in wall time, {sc / bc:F2}x in CPU time (goal <= 1.5x: {(s / b <= 1.5 ? "met" : "missed")}); " +
                                  $"throughput goal >= 100 exec/s: {(runs / s >= 100 ? "met" : "missed")}");
            }
            Console.WriteLine($"load after: {LoadAverage()}");
            return 0;
        }
        catch (SandboxUnavailableException e) { Console.Error.WriteLine($"klear {FullName}: {e.Message}"); return 1; }
        finally
        {
            foreach (var (sandbox, pool) in sandboxes)
            {
                pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
                sandbox.Dispose();
            }
            File.Delete(bareProgram);
        }
    }

    // The machine is shared: figures mean little without the load they were taken under.
    static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) + " (1, 5, 15 min)"; }
        catch (IOException) { return "unknown"; }
    }

    /// <summary>Wall seconds and CPU seconds (this process plus every reaped descendant) of one batch.</summary>
    static (double Wall, double Cpu) Measure(Action batch, bool split)
    {
        var (self0, children0) = CpuSeconds();
        var sw = Stopwatch.StartNew();
        batch();
        var wall = sw.Elapsed.TotalSeconds;
        var (self1, children1) = CpuSeconds();
        if (split)
            Console.WriteLine($"  cpu: host {self1 - self0:F3} s, children {children1 - children0:F3} s");
        return (wall, self1 - self0 + children1 - children0);
    }

    static (double Self, double Children) CpuSeconds()
    {
        // struct rusage starts with ru_utime and ru_stime (timeval: seconds, microseconds); 18 longs in all.
        var self = new long[18];
        var children = new long[18];
        if (GetRUsage(0, self) != 0 || GetRUsage(-1, children) != 0) throw new InvalidOperationException("getrusage failed");
        static double Seconds(long[] r) => r[0] + r[1] / 1e6 + r[2] + r[3] / 1e6;
        return (Seconds(self), Seconds(children));
    }

    [DllImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    static extern int GetRUsage(int who, [Out] long[] usage);

    static void Sandboxed(SandboxPool pool, string[] inputs)
    {
        var results = pool.RunAllAsync(inputs.Select(i => new SandboxRequest(Program, i))).GetAwaiter().GetResult();
        if (results.Any(r => r.ExitCode != 0)) throw new InvalidOperationException($"a sandboxed run failed: {results.First(r => r.ExitCode != 0).Stderr}");
    }

    static void Bare(string python, string programFile, string[] inputs, int workers)
    {
        Parallel.ForEach(inputs, new ParallelOptions { MaxDegreeOfParallelism = workers }, input =>
        {
            var psi = new ProcessStartInfo(python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "-I", "-B", programFile }) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            p.StandardInput.Write(input);
            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            p.WaitForExit();
            Task.WaitAll(stdout, stderr);
        });
    }

    static double Median(IEnumerable<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
