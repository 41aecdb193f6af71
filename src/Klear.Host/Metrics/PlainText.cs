using Spectre.Console;
using Spectre.Console.Rendering;

namespace Klear.Host.Metrics;

/// <summary>
/// Spectre.Console tables as plain text: no ANSI codes, no colours and no wrapping, so a table reads the same on a
/// terminal, in a log file, through a pipe and in a test's captured output. The Markdown border keeps cells
/// '|'-separated, which also pastes into a .md file as a table.
/// </summary>
public static class PlainText
{
    /// <summary>A table with these column headers; a header starting with '&gt;' is right-aligned (numbers).</summary>
    public static Table Table(params string[] headers)
    {
        var table = new Table().Border(TableBorder.Markdown);
        foreach (var h in headers)
            table.AddColumn(new TableColumn(new Text(h.TrimStart('>'))) { Alignment = h.StartsWith('>') ? Justify.Right : Justify.Left });
        return table;
    }

    /// <summary>Adds a row of plain cells (no markup, so '[' in a cell is just a bracket).</summary>
    public static Table Row(this Table table, params string[] cells) => table.AddRow(cells.Select(c => (IRenderable)new Text(c)).ToArray());

    public static string Render(IRenderable renderable)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 1000;   // no row wraps: a wrapped table row is unreadable in a log
        console.Write(renderable);
        // The Markdown border draws its top and bottom edges as blank lines: drop them, and trailing padding.
        var lines = writer.ToString().Split('\n').Select(l => l.TrimEnd()).SkipWhile(l => l.Length == 0).Reverse().SkipWhile(l => l.Length == 0).Reverse();
        return string.Join('\n', lines);
    }
}
