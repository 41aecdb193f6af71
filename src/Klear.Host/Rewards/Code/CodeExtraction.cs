using System.Text.RegularExpressions;

namespace Klear.Host.Rewards.Code;

/// <summary>Finds the program in a response: the last <c>```python</c> block after the reasoning.</summary>
public static partial class CodeExtraction
{
    public const string ThinkClose = "</think>";

    // The closing fence must start a line, so a ``` inside a string literal on a code line does not end the block.
    [GeneratedRegex(@"```python[ \t]*\r?\n(.*?)^[ \t]*```", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex PythonBlock();

    /// <summary>The program, or the format error that makes the response unscorable.</summary>
    public static (string? Program, string? FormatError) Extract(string response)
    {
        var close = response.LastIndexOf(ThinkClose, StringComparison.Ordinal);
        // Code inside the reasoning is a draft, not the answer; without </think> there is no answer part at all.
        if (close < 0) return (null, "no </think> in the response");
        var answer = response[(close + ThinkClose.Length)..];
        var blocks = PythonBlock().Matches(answer);
        if (blocks.Count == 0) return (null, "no ```python block after </think>");
        var program = blocks[^1].Groups[1].Value;
        return string.IsNullOrWhiteSpace(program) ? (null, "the last ```python block is empty") : (program, null);
    }
}
