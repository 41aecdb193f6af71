using System.Diagnostics;
using System.Text;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Klear.Host.Metrics;

/// <summary>
/// Progress of a training phase with its key figures. On a terminal it is a Spectre.Console live bar (count, elapsed,
/// remaining, figures); lines printed meanwhile through <see cref="Output"/> appear above it. When stdout is not a
/// terminal (CI, logs, tests) nothing is redrawn: a plain line every <c>every</c> updates and at the end, so logs stay
/// readable and free of escape codes.
/// </summary>
public sealed class ProgressBar : IDisposable
{
    static readonly bool Live = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities is { Ansi: true, Interactive: true };

    /// <summary>Where to print while a bar may be live: through Spectre.Console on a terminal, so a line lands above the
    /// bar instead of through it; plain stdout otherwise.</summary>
    public static TextWriter Output { get; } = Live ? new AboveTheBar() : Console.Out;

    readonly string _label;
    readonly int _total, _every;
    readonly Stopwatch _clock = Stopwatch.StartNew();
    readonly ManualResetEventSlim _finished = new();
    readonly Task? _display;
    readonly ProgressTask? _task;
    volatile string _figures = "";

    public ProgressBar(string label, int total, int every = 10)
    {
        (_label, _total, _every) = (label, total, every);
        if (!Live || total <= 0) return;
        // Spectre's live display runs inside a callback; a thread of its own keeps this class's Update/Finish shape.
        var started = new TaskCompletionSource<ProgressTask?>();
        _display = Task.Factory.StartNew(() => Show(started), TaskCreationOptions.LongRunning);
        _task = started.Task.GetAwaiter().GetResult();
    }

    void Show(TaskCompletionSource<ProgressTask?> started)
    {
        try
        {
            AnsiConsole.Progress().AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 24 }, new Column(t => $"{t.Value:0}/{_total}"),
                    new ElapsedTimeColumn(), new RemainingTimeColumn(), new Column(_ => _figures))
                .Start(context =>
                {
                    started.SetResult(context.AddTask(Markup.Escape(_label), maxValue: _total));
                    _finished.Wait();
                    context.Refresh();
                });
        }
        // A display that cannot start or draw must not stop a training run: the plain lines take over.
        catch (Exception e) when (e is InvalidOperationException or IOException) { }
        finally { started.TrySetResult(null); }
    }

    public void Update(int done, string figures)
    {
        if (_task is not null)
        {
            _figures = figures;
            _task.Value = done;
            return;
        }
        if (done != _total && done % _every != 0) return;
        var elapsed = _clock.Elapsed.TotalSeconds;
        var eta = done == 0 ? 0 : elapsed / done * (_total - done);
        var percent = _total == 0 ? 100 : 100.0 * done / _total;
        Console.WriteLine($"{_label} {done}/{_total} ({percent:0}%) {elapsed:0}s eta {eta:0}s  {figures}");
    }

    /// <summary>Ends the live display (the bar stays on screen); lines printed after it follow it.</summary>
    public void Finish()
    {
        if (_task is null || _finished.IsSet) return;
        _finished.Set();
        _display!.Wait();
    }

    /// <summary>Ends the live display also when the phase throws, so the error message is not drawn over.</summary>
    public void Dispose() => Finish();

    sealed class Column(Func<ProgressTask, string> text) : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) => new Text(text(task));
    }

    /// <summary>Whole lines through Spectre.Console, whose live display then redraws itself below them.</summary>
    sealed class AboveTheBar : TextWriter
    {
        readonly StringBuilder _line = new();

        public override Encoding Encoding => Console.OutputEncoding;

        public override void Write(char value)
        {
            lock (_line)
            {
                if (value == '\n')
                {
                    AnsiConsole.Write(new Text(_line.Append('\n').ToString()));
                    _line.Clear();
                }
                else if (value != '\r') _line.Append(value);
            }
        }

        public override void Write(string? value)
        {
            foreach (var c in value ?? "") Write(c);
        }
    }
}
