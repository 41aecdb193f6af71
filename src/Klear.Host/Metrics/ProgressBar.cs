namespace Klear.Host.Metrics;

/// <summary>
/// A one-line console progress bar with the key figures. On a terminal it redraws in place; when output is
/// redirected (CI, logs) it prints a plain line every <c>every</c> updates so logs stay readable.
/// </summary>
public sealed class ProgressBar(string label, int total, int every = 10)
{
    readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    readonly bool _interactive = !Console.IsOutputRedirected;

    public void Update(int done, string figures)
    {
        var width = 24;
        var filled = total == 0 ? width : (int)Math.Round(width * (double)done / total);
        var elapsed = _clock.Elapsed.TotalSeconds;
        var eta = done == 0 ? 0 : elapsed / done * (total - done);
        var line = $"{label} [{new string('#', filled)}{new string('.', width - filled)}] {done}/{total} {elapsed:0}s eta {eta:0}s  {figures}";
        if (_interactive) Console.Write("\r" + line.PadRight(Math.Min(Console.WindowWidth > 0 ? Console.WindowWidth - 1 : 120, 200)));
        else if (done == total || done % every == 0) Console.WriteLine(line);
    }

    public void Finish()
    {
        if (_interactive) Console.WriteLine();
    }
}
