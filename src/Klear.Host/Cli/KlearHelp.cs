using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace Klear.Host.Cli;

/// <summary>
/// <c>--help</c>: System.CommandLine's help for every command, except that <c>klear --help</c> lists all runnable
/// commands by their full names (<c>loss inspect</c>, not just <c>loss</c>), in the order given, main job first.
/// </summary>
public sealed class KlearHelp(IReadOnlyList<KlearCommand> commands) : SynchronousCommandLineAction
{
    readonly HelpAction _standard = new();

    public override bool ClearsParseErrors => true;

    public override int Invoke(ParseResult parseResult)
    {
        if (parseResult.CommandResult.Command is not RootCommand root) return _standard.Invoke(parseResult);
        WriteRoot(root, parseResult.InvocationConfiguration.Output);
        return 0;
    }

    public void WriteRoot(RootCommand root, TextWriter output)
    {
        var width = commands.Max(c => c.FullName.Length) + 3;
        output.WriteLine(root.Description);
        output.WriteLine();
        output.WriteLine("Usage:");
        output.WriteLine("  klear <command> [options] [key.sub_key=value ...]");
        output.WriteLine();
        output.WriteLine("Commands:");
        foreach (var c in commands) output.WriteLine($"  {c.FullName.PadRight(width)}{c.Description}");
        output.WriteLine();
        output.WriteLine("Options:");
        output.WriteLine($"  {"-h, --help".PadRight(width)}Show help and usage information");
        output.WriteLine($"  {"--version".PadRight(width)}Show version information");
        output.WriteLine();
        output.WriteLine("'klear <command> --help' lists a command's options; 'klear config show' lists every config key with its default and help.");
    }
}
