namespace Klear.Host.Tokenization;

/// <summary>
/// A fixed vocabulary of short strings for synthetic tasks: each id is one entry, and text is split by longest match,
/// so multi-character entries such as <c>&lt;think&gt;</c> or <c>\boxed{</c> are single tokens. Unknown text is an
/// error naming its position, never silently dropped.
/// </summary>
public sealed class CharTokenizer : ITokenizer
{
    readonly string[] _tokens;
    readonly Dictionary<string, int> _ids;
    readonly int _longest;

    public CharTokenizer(IEnumerable<string> tokens)
    {
        _tokens = tokens.ToArray();
        _ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < _tokens.Length; i++)
        {
            if (_tokens[i].Length == 0) throw new ArgumentException($"CharTokenizer: token {i} is empty", nameof(tokens));
            if (!_ids.TryAdd(_tokens[i], i)) throw new ArgumentException($"CharTokenizer: token '{_tokens[i]}' appears twice", nameof(tokens));
        }
        _longest = _tokens.Max(t => t.Length);
    }

    public const string Bos = "<bos>";
    public const string Eos = "<eos>";
    public const string Pad = "<pad>";

    /// <summary>
    /// The quickstart's 23 tokens: digits, <c>+ - = ; Q :</c>, <c>&lt;think&gt;</c>, <c>&lt;/think&gt;</c>,
    /// <c>\boxed{</c>, <c>}</c>, and BOS/EOS/PAD (PAD = 0, so zero-filled buffers are padding).
    /// </summary>
    public static CharTokenizer Arithmetic() =>
        new([Pad, Bos, Eos, "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "+", "-", "=", ";", "Q", ":", "<think>", "</think>", "\\boxed{", "}"]);

    /// <summary>
    /// Printable ASCII, newline and tab, one token each, plus BOS/EOS/PAD and single tokens for <c>&lt;think&gt;</c>,
    /// <c>&lt;/think&gt;</c> and <c>```python</c>: enough for a tiny model to write the synthetic code task's programs.
    /// </summary>
    public static CharTokenizer Ascii() =>
        new([Pad, Bos, Eos, "<think>", "</think>", "```python", "\n", "\t", .. Enumerable.Range(32, 95).Select(c => ((char)c).ToString())]);

    public int VocabSize => _tokens.Length;

    public IReadOnlyList<string> Tokens => _tokens;

    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length);
        int pos = 0;
        while (pos < text.Length)
        {
            int len = Math.Min(_longest, text.Length - pos);
            while (len > 0 && !_ids.ContainsKey(text.Substring(pos, len))) len--;
            if (len == 0) throw new ArgumentException($"CharTokenizer: '{text[pos]}' at position {pos} of \"{text}\" is not in the vocabulary", nameof(text));
            ids.Add(_ids[text.Substring(pos, len)]);
            pos += len;
        }
        return ids.ToArray();
    }

    public string Decode(IReadOnlyList<int> ids) =>
        string.Concat(ids.Select(id => id >= 0 && id < _tokens.Length ? _tokens[id]
            : throw new ArgumentOutOfRangeException(nameof(ids), $"CharTokenizer: id {id} is outside [0, {_tokens.Length})")));

    public int? TokenId(string token) => _ids.TryGetValue(token, out var id) ? id : null;
}
