namespace Klear.Host.Data;

/// <summary>A malformed dataset row; the message names the file, the row (1-based) and the field.</summary>
public sealed class DataFormatException(string file, int row, string field, string problem)
    : Exception($"{file}: row {row}: field '{field}': {problem}")
{
    public string File { get; } = file;
    public int Row { get; } = row;
    public string Field { get; } = field;
}
