using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using Klear.Host.Configuration;

namespace Klear.Host.Cli;

/// <summary>
/// The <c>klear</c> command tree: the commands under their group words (<c>loss inspect</c> under <c>loss</c>), help
/// that lists every command, and exit codes: 0 for help, 2 with a message naming the problem for any usage error or
/// bad input (options, config keys, data rows, files), otherwise what the command returns.
/// </summary>
public static class KlearCli
{
    static readonly Dictionary<string, string> GroupDescriptions = new()
    {
        ["data"] = "write datasets (the built-in arithmetic task, the synthetic code task), inspect verl files, and filter them by a reference policy's pass rate",
        ["loss"] = "the policy objectives: per-token values, gradient table, benchmark",
        ["model"] = "a Qwen3 model: create one from a config.json, its logits, throughput and memory",
        ["verify"] = "the math answer verifier",
        ["sandbox"] = "the Python sandbox that scores code",
    };

    public static int Run(string[] args, IReadOnlyList<KlearCommand> commands)
    {
        var (root, help) = Build(commands);
        var parsed = root.Parse(HelpWords(args), new ParserConfiguration { ResponseFileTokenReplacer = null });  // '@x' is a value, not a file
        if (parsed.Errors.Count > 0) return UsageError(parsed, root, help);
        try { return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }); }
        catch (Exception e) when (e is UsageException or ConfigException or Data.DataFormatException
                                   or FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
        {
            // Bad input: a message naming it, no stack trace.
            Console.Error.WriteLine($"{Prefix(PathOf(parsed.CommandResult))}: {e.Message}");
            return 2;
        }
    }

    /// <summary><c>klear</c> and <c>klear help [command]</c> are the same as <c>--help</c>.</summary>
    static string[] HelpWords(string[] args) => args switch
    {
        [] or ["help"] => ["--help"],
        ["help", .. var rest] => [.. rest, "--help"],
        _ => args,
    };

    static (RootCommand Root, KlearHelp Help) Build(IReadOnlyList<KlearCommand> commands)
    {
        var root = new RootCommand("Klear: RL of reasoning language models with GPPO, on TorchSharp.");
        foreach (var command in commands)
        {
            Command parent = root;
            foreach (var word in command.FullName.Split(' ')[..^1])
            {
                var group = parent.Subcommands.FirstOrDefault(c => c.Name == word);
                if (group is null) parent.Add(group = new Command(word, GroupDescriptions.GetValueOrDefault(word) ?? $"the {word} commands"));
                parent = group;
            }
            parent.Add(command);
        }
        var help = new KlearHelp(commands);
        // Only --help and -h: the default /h and /? would take a path like /h given as an option's value.
        root.Options.Remove(root.Options.OfType<HelpOption>().Single());
        root.Options.Add(new HelpOption("--help", "-h") { Action = help });
        return (root, help);
    }

    static int UsageError(ParseResult parsed, RootCommand root, KlearHelp help)
    {
        var result = parsed.CommandResult;
        var path = PathOf(result);
        if (result.Command is KlearCommand)
        {
            Console.Error.WriteLine($"{Prefix(path)}: {Describe(parsed)}");
            Console.Error.WriteLine($"('{Prefix(path)} --help' lists its options)");
            return 2;
        }
        // The root or a group: no runnable command was named. Say so, then what there is, on stderr.
        var first = parsed.UnmatchedTokens.FirstOrDefault();
        Console.Error.WriteLine(first is null ? $"{Prefix(path)}: which command? one of these" :
            first.StartsWith('-') ? $"{Prefix(path)}: unknown option: {first}" :
            $"unknown command '{$"{path} {first}".Trim()}'");
        Console.Error.WriteLine();
        if (result.Command is RootCommand) help.WriteRoot(root, Console.Error);
        else root.Parse([.. path.Split(' '), "--help"]).Invoke(new InvocationConfiguration { Output = Console.Error });
        return 2;
    }

    /// <summary>A command's parse errors: a misspelt option or a stray word named plainly (System.CommandLine would
    /// call both "unrecognized command or argument"), anything else in System.CommandLine's words.</summary>
    static string Describe(ParseResult parsed)
    {
        var unmatched = parsed.UnmatchedTokens;
        var unknown = unmatched.Where(t => t.StartsWith('-')).ToList();
        if (unknown.Count > 0) return $"unknown option{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown)}";
        if (unmatched.Count > 0) return $"unexpected argument '{unmatched[0]}' (options look like --name value)";
        return string.Join("; ", parsed.Errors.Select(e => e.Message).Distinct());
    }

    static string Prefix(string path) => path.Length == 0 ? "klear" : $"klear {path}";

    /// <summary>"loss inspect" for that command's result, "" for the root.</summary>
    static string PathOf(CommandResult result)
    {
        var words = new List<string>();
        for (SymbolResult? r = result; r is CommandResult { Command: not RootCommand } c; r = r.Parent) words.Insert(0, c.Command.Name);
        return string.Join(' ', words);
    }
}
