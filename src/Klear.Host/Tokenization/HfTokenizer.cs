using System.Text.Json.Nodes;

namespace Klear.Host.Tokenization;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> (Qwen's byte-level BPE with its added special tokens) run by the Rust
/// tokenizers library through Tokenizers.DotNet, so pre-tokenisation and merges match the Python ecosystem exactly.
/// The wrapper exposes only encode/decode; special-token ids and the vocabulary size are read from the JSON here.
/// </summary>
/// <remarks>
/// The wrapper's decode drops the added tokens marked <c>special</c> (<c>&lt;|im_start|&gt;</c>, <c>&lt;|im_end|&gt;</c>,
/// <c>&lt;|endoftext|&gt;</c>), as the Rust library does with skip_special_tokens; <see cref="Decode"/> keeps them, as
/// <see cref="ITokenizer"/> promises, by decoding the runs between them natively and writing each one's text. That is
/// the library's decode without skipping: its byte-level decoder maps an added token's ASCII text to itself, and its
/// lossy UTF-8 step treats bytes cut by an ASCII character the same as bytes cut by a run's end.
/// </remarks>
public sealed class HfTokenizer : ITokenizer, IDisposable
{
    public const string FileName = "tokenizer.json";

    readonly Tokenizers.DotNet.Tokenizer _native;
    readonly Dictionary<string, int> _named;
    readonly Dictionary<int, string> _special;

    public int VocabSize { get; }

    HfTokenizer(Tokenizers.DotNet.Tokenizer native, Dictionary<string, int> named, Dictionary<int, string> special, int vocabSize)
    {
        _native = native;
        _named = named;
        _special = special;
        VocabSize = vocabSize;
    }

    /// <summary>Loads <paramref name="path"/>: a tokenizer.json file or a model directory holding one.</summary>
    public static HfTokenizer Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, FileName) : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: tokenizer file not found", file);
        JsonNode root;
        try { root = JsonNode.Parse(File.ReadAllText(file)) ?? throw new InvalidDataException($"{file}: empty JSON"); }
        catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"{file}: not valid JSON ({e.Message})"); }

        var named = new Dictionary<string, int>(StringComparer.Ordinal);
        var special = new Dictionary<int, string>();
        int maxId = -1;
        if (root["model"]?["vocab"] is JsonObject vocab)
            foreach (var (token, id) in vocab)
            {
                int i = (int)id!;
                named.TryAdd(token, i);
                maxId = Math.Max(maxId, i);
            }
        if (root["added_tokens"] is JsonArray added)
            foreach (var t in added)
            {
                int i = (int)t!["id"]!;
                named[(string)t["content"]!] = i;
                if (t["special"] is JsonValue sv && sv.TryGetValue<bool>(out var isSpecial) && isSpecial) special[i] = (string)t["content"]!;
                maxId = Math.Max(maxId, i);
            }
        if (maxId < 0) throw new InvalidDataException($"{file}: no model.vocab or added_tokens");

        Tokenizers.DotNet.Tokenizer native;
        try { native = new Tokenizers.DotNet.Tokenizer(file); }
        catch (Tokenizers.DotNet.TokenizerException e) { throw new InvalidDataException($"{file}: the tokenizers library rejected it ({e.Message})"); }
        return new HfTokenizer(native, named, special, maxId + 1);
    }

    public int[] Encode(string text) => _native.Encode(text).Select(id => (int)id).ToArray();

    public string Decode(IReadOnlyList<int> ids)
    {
        var text = new System.Text.StringBuilder();
        var run = new List<uint>();
        void Flush()
        {
            if (run.Count > 0) text.Append(_native.Decode(run.ToArray()));
            run.Clear();
        }
        foreach (var id in ids)
        {
            if (id < 0) throw new ArgumentOutOfRangeException(nameof(ids), $"HfTokenizer: negative id {id}");
            if (_special.TryGetValue(id, out var token)) { Flush(); text.Append(token); }
            else run.Add((uint)id);
        }
        Flush();
        return text.ToString();
    }

    /// <summary>Looks a token up by its spelling in the vocabulary (byte-level form) or among the added tokens.</summary>
    public int? TokenId(string token) => _named.TryGetValue(token, out var id) ? id : null;

    public void Dispose() => _native.Dispose();
}
