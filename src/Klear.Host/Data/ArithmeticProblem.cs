namespace Klear.Host.Data;

/// <summary>A running add/subtract chain such as 37+48-12 (the total never drops below 0), and its answer.</summary>
public sealed record ArithmeticProblem(int[] Operands, char[] Operators)
{
    public int Answer => Partials[^1];

    /// <summary>The running totals after each operation: for 37+48-12, [85, 73].</summary>
    public int[] Partials
    {
        get
        {
            var totals = new int[Operators.Length];
            int total = Operands[0];
            for (int i = 0; i < Operators.Length; i++)
            {
                total = Operators[i] == '+' ? total + Operands[i + 1] : total - Operands[i + 1];
                totals[i] = total;
            }
            return totals;
        }
    }

    public string Expression => Operands[0] + string.Concat(Operators.Select((op, i) => $"{op}{Operands[i + 1]}"));

    /// <summary>The prompt text the policy sees.</summary>
    public string Prompt => $"Q:{Expression}=";
}
