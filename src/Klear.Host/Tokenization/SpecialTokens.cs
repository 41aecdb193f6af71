namespace Klear.Host.Tokenization;

/// <summary>The ids a trainer needs: an optional BOS before prompts, the EOS that ends a response, the pad id.
/// Found by spelling: the built-in vocabulary's <c>&lt;bos&gt;/&lt;eos&gt;/&lt;pad&gt;</c>, or Qwen's
/// <c>&lt;|im_end|&gt;</c> / <c>&lt;|endoftext|&gt;</c>.</summary>
public sealed record SpecialTokens(int? Bos, int Eos, int Pad)
{
    public static SpecialTokens From(ITokenizer tokenizer)
    {
        var eos = tokenizer.TokenId("<eos>") ?? tokenizer.TokenId("<|im_end|>") ?? tokenizer.TokenId("<|endoftext|>")
            ?? throw new ArgumentException("tokenizer has no end-of-sequence token (<eos>, <|im_end|> or <|endoftext|>)");
        var pad = tokenizer.TokenId("<pad>") ?? tokenizer.TokenId("<|endoftext|>") ?? eos;
        return new SpecialTokens(tokenizer.TokenId("<bos>"), eos, pad);
    }

    public int[] EncodePrompt(ITokenizer tokenizer, string text) =>
        Bos is { } bos ? [bos, .. tokenizer.Encode(text)] : tokenizer.Encode(text);
}
