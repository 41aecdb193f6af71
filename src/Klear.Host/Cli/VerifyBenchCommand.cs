using System.CommandLine;
using System.Diagnostics;
using Klear.Verifier;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear verify bench</c>: single-threaded checks per second of the math verifier on a mix shaped like RL rewards:
/// short boxed answers, long chains of thought ending in a box, fractions against decimals, sets, intervals, symbolic
/// expressions, and wrong answers. Prints figures; it is not a test.
/// </summary>
public sealed class VerifyBenchCommand : KlearCommand
{
    readonly Option<double> _seconds = CliOption.Double("--seconds", "measuring time, in (0, 60]", 2.0);
    readonly Option<bool> _perPair = CliOption.Flag("--per-pair", "also time each pair of the mix");

    public VerifyBenchCommand() : base("verify bench", "checks/second of the math verifier on a realistic mix (single thread)")
    {
        Add(_seconds);
        Add(_perPair);
    }

    static readonly string Reasoning = string.Concat(Enumerable.Repeat(
        "We expand $(x+1)^2 = x^2 + 2x + 1$ and compare coefficients, so $a = 2$ and $b = 1$. ", 20));

    static readonly (string Gold, string Answer)[] Mix =
    [
        ("4", "The answer is \\boxed{4}."),
        ("4", "The answer is \\boxed{5}."),
        ("\\frac{1}{3}", "So the probability is $\\boxed{\\dfrac{1}{3}}$."),
        ("\\frac{1}{3}", "So the probability is $\\boxed{0.333333}$."),
        ("0.5", "\\boxed{\\frac{1}{2}}"),
        ("2\\sqrt{3}", "We get $\\boxed{\\sqrt{12}}$"),
        ("\\frac{9}{4}\\pi", "Therefore $\\boxed{\\frac94\\pi}$."),
        ("(1, 2)", "The point is $\\boxed{(1,2)}$"),
        ("[-4, 0]", "Thus \\[ \\boxed{[-4, 0]} \\]"),
        ("\\{1, 2, 3\\}", "The solutions are $\\boxed{\\{3, 1, 2\\}}$"),
        ("x^2 + 2x + 1", "\\boxed{(x+1)^2}"),
        ("2 \\sin b \\cos a", "\\[\\sin (a + b) - \\sin (a - b) = \\boxed{2 \\sin b \\cos a}.\\]"),
        ("50\\%", "The increase is \\boxed{50\\%}."),
        ("x = 3", "Solving gives $x = 3$, so the answer is \\boxed{3}"),
        ("1000", "The total is \\boxed{1{,}000} dollars."),
        ("12", "<think>" + Reasoning + "</think> The number of ways is $\\boxed{12}$."),
        ("\\frac{14}{3}", Reasoning + "Adding up, $2+\\frac{5}{3}+1=\\boxed{\\frac{14}{3}}$"),
        ("7", Reasoning + "Final Answer: The final answer is $7$. I hope it is correct."),
        ("120", Reasoning + "Therefore the volume is 120."),
        ("-\\frac{10}{9}", "\\boxed{-10/9}"),
        ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "$\\boxed{\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}}$"),
        ("e^{i\\pi}", "\\boxed{-1}"),
        ("\\text{(C)}", "The correct option is \\boxed{C}"),
        ("3", "I could not solve this."),
    ];

    protected override bool UsesTorch => false;

    protected override int Run(ParseResult parsed)
    {
        var seconds = parsed.GetValue(_seconds);
        var perPair = parsed.GetValue(_perPair);
        if (seconds <= 0 || seconds > 60) throw new UsageException("--seconds must be in (0, 60]");
        var options = VerifyOptions.Defaults;

        foreach (var (g, a) in Mix) MathVerifier.verify(options, g, a); // warm-up: JIT and tiered compilation
        long checks = 0, equivalent = 0;
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var budget = TimeSpan.FromSeconds(seconds);
        while (sw.Elapsed < budget)
        {
            foreach (var (g, a) in Mix)
                if (MathVerifier.verify(options, g, a)) equivalent++;
            checks += Mix.Length;
        }
        sw.Stop();
        // CPU time as well as wall time: the machine is shared, and wall time alone measures the neighbours.
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        var rate = checks / sw.Elapsed.TotalSeconds;
        Console.WriteLine($"verify bench: {checks} checks in {sw.Elapsed.TotalSeconds:F2} s on one thread = {rate:F0} checks/s " +
                          $"({Mix.Length}-pair mix, {equivalent * Mix.Length / Math.Max(1, checks)} of {Mix.Length} equivalent, " +
                          $"mean {1e6 / rate:F1} us/check); per CPU second of this process: {checks / cpu:F0} checks/s");
        if (perPair)
            foreach (var (g, a) in Mix)
            {
                var one = Stopwatch.StartNew();
                int n = 0;
                while (one.ElapsedMilliseconds < 100) { MathVerifier.verify(options, g, a); n++; }
                Console.WriteLine($"  {one.Elapsed.TotalMilliseconds * 1000 / n,8:F1} us  {g} | {(a.Length > 60 ? a[^60..] : a)}");
            }
        return 0;
    }
}
