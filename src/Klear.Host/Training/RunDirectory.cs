using Klear.Host.Configuration;

namespace Klear.Host.Training;

/// <summary>
/// <c>runs/{task}__{objective}__s{seed}__{yyyyMMdd-HHmmss}/</c> with the resolved <c>config.yaml</c> (plus the git
/// commit when the run starts inside a checkout), <c>metrics.jsonl</c>, <c>tb/</c>, <c>checkpoints/</c>, <c>eval/</c>.
/// </summary>
public sealed record RunDirectory(string Path)
{
    public string Checkpoints => System.IO.Path.Combine(Path, "checkpoints");
    public string Eval => System.IO.Path.Combine(Path, "eval");

    /// <param name="derived">What the settings imply (TrainingRun.Derived), recorded for reading under derived:.</param>
    public static RunDirectory Create(RunConfig config, string taskName, System.Text.Json.Nodes.JsonObject? derived = null)
    {
        var name = $"{taskName}__{config.Actor.PolicyLoss}__s{config.Seed}__{DateTime.UtcNow:yyyyMMdd-HHmmss}";
        var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(config.OutputDir, name));
        for (int i = 1; Directory.Exists(path); i++) path = System.IO.Path.GetFullPath(System.IO.Path.Combine(config.OutputDir, $"{name}-{i}"));
        Directory.CreateDirectory(path);
        var run = new RunDirectory(path);
        run.WriteConfig(config, derived);
        return run;
    }

    public void WriteConfig(RunConfig config, System.Text.Json.Nodes.JsonObject? derived = null)
    {
        var commit = GitCommit();
        var header = $"# Resolved configuration of this run (every key, defaults included).\n# git commit: {commit ?? "unknown"}\n";
        File.WriteAllText(System.IO.Path.Combine(Path, "config.yaml"), header + ConfigDescription.ToYaml(config, derived));
    }

    /// <summary>The HEAD commit of the checkout around the working directory, read from .git without running git.</summary>
    static string? GitCommit()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            var head = System.IO.Path.Combine(dir.FullName, ".git", "HEAD");
            if (!File.Exists(head)) continue;
            var text = File.ReadAllText(head).Trim();
            if (!text.StartsWith("ref: ", StringComparison.Ordinal)) return text;
            var refFile = System.IO.Path.Combine(dir.FullName, ".git", text[5..]);
            return File.Exists(refFile) ? File.ReadAllText(refFile).Trim() : null;
        }
        return null;
    }
}
