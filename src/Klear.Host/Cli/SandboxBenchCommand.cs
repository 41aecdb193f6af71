using System.Diagnostics;
using System.Runtime.InteropServices;
using Klear.Host.Rewards.Sandbox;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear sandbox bench</c>: sandboxed executions per second of a trivial program through the pool, against the same
/// program run bare with the same concurrency. Rounds alternate sandboxed and bare because the machine is shared and
/// noisy; medians are reported, and CPU seconds per execution too (children's and ours), which other users' load
/// distorts far less than wall time.
/// </summary>
public sealed class SandboxBenchCommand : ICommand
{
    const string Program = "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n";

    public string Name => "sandbox bench";
    public string Summary => "exec/s of a trivial program, sandboxed vs bare python3 (--runs, --rounds, --workers, --cpu-split)";

    public int Run(CliArgs args)
    {
        var runs = args.Int("runs", 200);
        var rounds = args.Int("rounds", 3);
        var workers = args.Int("workers", Environment.ProcessorCount);
        var split = args.Flag("cpu-split");
        args.RejectUnknown();
        if (runs < 1 || rounds < 1 || workers < 1) throw new UsageException("--runs, --rounds and --workers must be positive");

        PythonSandbox sandbox;
        try { sandbox = new PythonSandbox(); }
        catch (SandboxUnavailableException e) { Console.Error.WriteLine($"klear {Name}: {e.Message}"); return 1; }
        using (sandbox)
        {
            var bareProgram = Path.Combine(Path.GetTempPath(), $"klear-bench-{Environment.ProcessId}.py");
            File.WriteAllText(bareProgram, Program);
            var pool = new SandboxPool(sandbox, workers);
            try
            {
                var inputs = Enumerable.Range(0, runs).Select(i => $"{i} {i + 1} {i + 2}\n").ToArray();
                // Warm-up: page cache, JIT, first cgroup creation.
                Sandboxed(pool, inputs.Take(workers * 2).ToArray());
                Bare(sandbox.Limits.PythonPath, bareProgram, inputs.Take(workers * 2).ToArray(), workers);
                var sandboxed = new List<(double Wall, double Cpu)>();
                var bare = new List<(double Wall, double Cpu)>();
                for (int r = 0; r < rounds; r++)
                {
                    sandboxed.Add(Measure(() => Sandboxed(pool, inputs), split));
                    bare.Add(Measure(() => Bare(sandbox.Limits.PythonPath, bareProgram, inputs, workers), split));
                    Console.WriteLine($"round {r + 1}: sandboxed {runs / sandboxed[^1].Wall:F1} exec/s ({sandboxed[^1].Cpu / runs * 1000:F1} ms CPU each), " +
                                      $"bare {runs / bare[^1].Wall:F1} exec/s ({bare[^1].Cpu / runs * 1000:F1} ms CPU each)");
                }
                var (s, sc) = (Median(sandboxed.Select(x => x.Wall)), Median(sandboxed.Select(x => x.Cpu)));
                var (b, bc) = (Median(bare.Select(x => x.Wall)), Median(bare.Select(x => x.Cpu)));
                Console.WriteLine($"sandboxed: {runs / s:F1} exec/s, {sc / runs * 1000:F1} ms CPU per execution ({workers} workers, cgroups {(sandbox.UsesCgroups ? "on" : "off")})");
                Console.WriteLine($"bare python3: {runs / b:F1} exec/s, {bc / runs * 1000:F1} ms CPU per execution");
                Console.WriteLine($"overhead: {s / b:F2}x bare in wall time, {sc / bc:F2}x in CPU time (goal <= 1.5x); " +
                                  $"throughput goal >= 100 exec/s: {(runs / s >= 100 ? "met" : "missed")}");
                return 0;
            }
            finally
            {
                pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
                File.Delete(bareProgram);
            }
        }
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
