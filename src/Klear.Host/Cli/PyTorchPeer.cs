using System.Diagnostics;
using Klear.Host.Model;

namespace Klear.Host.Cli;

/// <summary>
/// <c>bench/model_bench.py</c> on Debian's python3-torch: the same architecture and work in PyTorch eager, run as a
/// child process that prints one JSON object of <see cref="ModelBenchFigures"/>. Installs nothing.
/// </summary>
static class PyTorchPeer
{
    /// <summary>The peer's figures, or null with a one-line reason printed (no script, no torch, the script failed).</summary>
    public static ModelBenchFigures? Run(string? script, string python, Qwen3Config c, int batch, int seq, int prompt, int newTokens,
        int noCacheTokens, int steps, int torchThreads, int blasThreads, ISet<string> parts, bool quiet = false)
    {
        if (script is null || !File.Exists(script))
        {
            Console.WriteLine("PyTorch: bench/model_bench.py not found (pass --pytorch-script PATH); no comparison");
            return null;
        }
        if (!File.Exists(python) || RunProcess(python, ["-c", "import torch"]).Code != 0)
        {
            Console.WriteLine($"PyTorch: not importable by {python}; nothing was installed. For the comparison run: " +
                              "apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread");
            return null;
        }
        List<string> arguments =
        [
            script, "--layers", $"{c.NumHiddenLayers}", "--hidden", $"{c.HiddenSize}", "--heads", $"{c.NumAttentionHeads}",
            "--kv-heads", $"{c.NumKeyValueHeads}", "--head-dim", $"{c.HeadDim}", "--intermediate", $"{c.IntermediateSize}",
            "--vocab", $"{c.VocabSize}", "--batch", $"{batch}", "--seq", $"{seq}", "--prompt-tokens", $"{prompt}",
            "--new-tokens", $"{newTokens}", "--no-cache-tokens", $"{noCacheTokens}", "--train-steps", $"{steps}",
            "--threads", $"{torchThreads}", "--parts", string.Join(',', parts),
        ];
        if (c.TieWordEmbeddings) arguments.Add("--tie");
        // OpenBLAS sizes its pool when it loads, so the peer's matmul thread count can only come from the environment.
        var (code, output, error) = RunProcess(python, arguments, new() { ["OPENBLAS_NUM_THREADS"] = $"{blasThreads}" });
        if (code != 0)
        {
            Console.WriteLine($"PyTorch: {script} failed (exit {code}): {error.Trim()}");
            return null;
        }
        var json = output.Trim().Split('\n')[^1];
        if (!quiet)
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            var r = doc.RootElement;
            Console.WriteLine($"PyTorch {r.GetProperty("torch_version").GetString()} ({r.GetProperty("threads").GetInt32()} torch thread(s), " +
                              $"OpenBLAS threads {r.GetProperty("blas_threads").GetString()}, BLAS {r.GetProperty("blas").GetString()}):");
        }
        return ModelBenchFigures.FromJson(json);
    }

    public static (int Code, string Output, string Error) RunProcess(string file, IEnumerable<string> arguments, Dictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? []) psi.Environment[name] = value;
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output.Result, error);
    }

    /// <summary>The script lives in the repository, not the build output: look up from the working and the binary directory.</summary>
    public static string? FindScript()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "bench", "model_bench.py");
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }
}
