namespace Klear.Host.Rewards.Code;

/// <summary>One test: feed <see cref="Stdin"/> and compare stripped stdout with <see cref="ExpectedStdout"/>, or
/// (functional) append <see cref="AssertSnippet"/> to the program and require a clean exit.</summary>
public sealed record CodeTestCase(string Stdin, string? ExpectedStdout, string? AssertSnippet)
{
    public bool IsFunctional => AssertSnippet is not null;

    public static CodeTestCase StdinStdout(string stdin, string expected) => new(stdin, expected, null);
    public static CodeTestCase Functional(string snippet) => new("", null, snippet);
}
