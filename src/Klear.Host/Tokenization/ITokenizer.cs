namespace Klear.Host.Tokenization;

/// <summary>Text to token ids and back; implemented by the HF tokenizer.json wrapper and the built-in character tokenizer.</summary>
public interface ITokenizer
{
    /// <summary>Ids run from 0 to VocabSize - 1 (special tokens included); the model's vocab_size may be larger (padding).</summary>
    int VocabSize { get; }

    /// <summary>Special tokens written in the text (<c>&lt;|im_start|&gt;</c>, <c>&lt;think&gt;</c>) become their single ids.</summary>
    int[] Encode(string text);

    /// <summary>Special tokens are kept in the text, so a response's <c>&lt;think&gt;</c> block can be parsed.</summary>
    string Decode(IReadOnlyList<int> ids);

    /// <summary>The id of a token spelled exactly (e.g. <c>&lt;|im_end|&gt;</c>), or null when it is not in the vocabulary.</summary>
    int? TokenId(string token);
}
