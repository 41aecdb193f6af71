using System.Globalization;
using System.Text.Json.Nodes;
using Klear.Host.Data;
using Klear.Host.Metrics;

namespace Klear.Host.Evaluation;

/// <summary>
/// What a pass-rate filter did: rows in and kept, the mean pass rate, and, over the rows that say whether their
/// tests are wrong (<c>extra_info.wrong_tests</c>, true or false), how many of each kind it kept. Dropping a row is
/// read as "its tests are wrong": precision is the share of dropped rows that had wrong tests, recall the share of
/// rows with wrong tests that were dropped.
/// </summary>
public sealed record PassRateFilterSummary(int Rows, int Kept, int K, double Min, double MeanPassRate,
                                           int WrongRows, int WrongKept, int CleanRows, int CleanKept, double Seconds)
{
    public const string WrongTestsField = "wrong_tests";

    /// <summary>The row's <c>extra_info.wrong_tests</c>, or null when it does not say.</summary>
    /// <exception cref="DataFormatException">The field is there but not true or false.</exception>
    public static bool? WrongTests(VerlRow row) => row.ExtraInfo?[WrongTestsField] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        var n => throw new DataFormatException(row.Origin[..Math.Max(0, row.Origin.LastIndexOf(':'))], VerlDataset.RowNumber(row),
                                               "extra_info." + WrongTestsField, $"expected true or false, got {n.ToJsonString()}"),
    };

    public static PassRateFilterSummary Of(IReadOnlyList<PassRateVerdict> verdicts, int k, double min, double seconds)
    {
        var flagged = verdicts.Select(v => (v.Kept, Wrong: WrongTests(v.Row))).ToList();
        int Count(bool wrong, bool keptOnly) => flagged.Count(f => f.Wrong == wrong && (!keptOnly || f.Kept));
        return new PassRateFilterSummary(verdicts.Count, verdicts.Count(v => v.Kept), k, min,
            verdicts.Count == 0 ? 0 : verdicts.Average(v => v.PassRate),
            Count(true, false), Count(true, true), Count(false, false), Count(false, true), seconds);
    }

    public bool HasFlags => WrongRows + CleanRows > 0;
    public double? KeptShareWrong => WrongRows == 0 ? null : WrongKept / (double)WrongRows;
    public double? KeptShareClean => CleanRows == 0 ? null : CleanKept / (double)CleanRows;
    public double? Recall => WrongRows == 0 ? null : (WrongRows - WrongKept) / (double)WrongRows;

    public double? Precision
    {
        get
        {
            var dropped = WrongRows - WrongKept + CleanRows - CleanKept;
            return dropped == 0 ? null : (WrongRows - WrongKept) / (double)dropped;
        }
    }

    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["rows"] = Rows, ["kept"] = Kept, ["k"] = K, ["min_pass_rate"] = Min,
            ["mean_pass_rate"] = Math.Round(MeanPassRate, 6), ["seconds"] = Math.Round(Seconds, 1),
        };
        if (HasFlags)
        {
            o["wrong_tests_rows"] = WrongRows;
            o["wrong_tests_kept"] = WrongKept;
            o["clean_rows"] = CleanRows;
            o["clean_kept"] = CleanKept;
            o["precision"] = Precision is { } p ? Math.Round(p, 6) : null;
            o["recall"] = Recall is { } r ? Math.Round(r, 6) : null;
        }
        return o;
    }

    /// <summary>The summary as plain-text tables (it goes to logs as well as terminals).</summary>
    public string Table()
    {
        var text = PlainText.Render(PlainText.Table(">rows", ">kept", ">k", ">min pass rate", ">mean pass rate", ">seconds")
            .Row($"{Rows}", $"{Kept}", $"{K}", F(Min), F(MeanPassRate), Seconds.ToString("0.0", CultureInfo.InvariantCulture)));
        if (!HasFlags) return text;
        return text + "\n" + PlainText.Render(
            PlainText.Table("rows (extra_info.wrong_tests)", ">rows", ">kept", ">kept share")
                .Row("wrong tests", $"{WrongRows}", $"{WrongKept}", F(KeptShareWrong))
                .Row("clean", $"{CleanRows}", $"{CleanKept}", F(KeptShareClean)))
            + $"\nprecision of dropping (dropped rows with wrong tests / dropped): {F(Precision)}; " +
              $"recall (rows with wrong tests dropped / rows with wrong tests): {F(Recall)}";
    }

    static string F(double? x) => x is { } v ? v.ToString("0.0000", CultureInfo.InvariantCulture) : "-";
}
