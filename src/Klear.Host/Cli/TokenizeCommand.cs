using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Klear.Host.Tokenization;

namespace Klear.Host.Cli;

/// <summary>
/// <c>klear tokenize --tokenizer DIR (--text T | --chat FILE.json | --jsonl FILE)</c>: token ids of a text, or of a
/// conversation rendered with Qwen3's chat template, as <c>{"ids": [...], "text": "..."}</c> where text is the string
/// that was encoded. <c>--jsonl</c> reads one request a line (<see cref="TokenizeRequest"/>) and prints one object a
/// line, in order; every line is read and checked before anything is printed, so a bad line names its number and
/// nothing else comes out.
/// </summary>
public sealed class TokenizeCommand : KlearCommand
{
    readonly Option<string> _tokenizer = CliOption.Text("--tokenizer", "directory holding tokenizer.json (a Hugging Face model directory), or the file", required: true);
    readonly Option<string> _text = CliOption.Text("--text", "the text to encode (special tokens written in it become their ids)");
    readonly Option<string> _chat = CliOption.Text("--chat", "JSON file: a list of {role, content} messages, or an object with \"messages\"");
    readonly Option<string> _jsonl = CliOption.Text("--jsonl", "JSON Lines file: {\"text\": ...} or {\"messages\": [...], \"add_generation_prompt\": b, \"enable_thinking\": b} a line");
    readonly Option<string> _thinking = CliOption.Choice("--thinking", "with --chat: off pre-fills an empty think block after the generation prompt (enable_thinking=false)", "on", "on", "off");
    readonly Option<bool> _generationPrompt = CliOption.Flag("--generation-prompt", "with --chat: end with the opening of an assistant turn (add_generation_prompt)");

    public TokenizeCommand() : base("tokenize", "token ids of a text or of a Qwen3 chat conversation (--text, --chat FILE.json or --jsonl FILE), as JSON")
    {
        foreach (var option in new Option[] { _tokenizer, _text, _chat, _jsonl, _thinking, _generationPrompt }) Add(option);
    }

    // Readable output: non-ASCII text and quotes as they are, control characters escaped.
    static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    protected override bool UsesTorch => false;

    protected override int Run(ParseResult parsed)
    {
        var sources = new[] { (_text, "--text"), (_chat, "--chat"), (_jsonl, "--jsonl") }.Where(s => parsed.GetValue(s.Item1) is not null).ToList();
        if (sources.Count != 1) throw new UsageException("give exactly one of --text, --chat and --jsonl");
        if (parsed.GetValue(_chat) is null && (parsed.GetResult(_thinking) is { Implicit: false } || parsed.GetValue(_generationPrompt)))
            throw new UsageException("--thinking and --generation-prompt go with --chat (a --jsonl line sets enable_thinking and add_generation_prompt itself)");

        var requests = parsed.GetValue(_text) is { } text ? [new TokenizeRequest(text, null, false, true)]
            : parsed.GetValue(_chat) is { } chat ? [ReadChat(chat, parsed.GetValue(_generationPrompt), parsed.GetRequiredValue(_thinking) == "on")]
            : ReadJsonl(parsed.GetValue(_jsonl)!);
        var tokenizerPath = parsed.GetRequiredValue(_tokenizer);
        if (requests.Any(r => r.Messages is not null)) CheckChatFormat(tokenizerPath);
        using var tokenizer = HfTokenizer.Load(tokenizerPath);
        foreach (var request in requests)
        {
            var input = request.Input;
            Console.Out.WriteLine(JsonSerializer.Serialize(new JsonObject
            {
                ["ids"] = new JsonArray(tokenizer.Encode(input).Select(id => (JsonNode)id).ToArray()),
                ["text"] = input,
            }, Readable));
        }
        return 0;
    }

    /// <summary>Klear renders Qwen3's ChatML format only: a directory whose tokenizer_config.json has another chat
    /// template (no <c>&lt;|im_start|&gt;</c>) would get prompts its model was not trained on, so it is refused.</summary>
    static void CheckChatFormat(string tokenizerPath)
    {
        var config = Path.Combine(Directory.Exists(tokenizerPath) ? tokenizerPath : Path.GetDirectoryName(Path.GetFullPath(tokenizerPath))!, "tokenizer_config.json");
        if (!File.Exists(config)) return;
        if (ParseJson(File.ReadAllText(config), config) is JsonObject { } o && o["chat_template"] is JsonValue v
            && v.TryGetValue<string>(out var template) && !template.Contains(Qwen3ChatTemplate.ImStart, StringComparison.Ordinal))
            throw new UsageException($"{config}: its chat_template is not the ChatML format (<|im_start|>) of Qwen3, the one Klear renders");
    }

    static TokenizeRequest ReadChat(string path, bool addGenerationPrompt, bool enableThinking)
    {
        var node = ParseJson(File.Exists(path) ? File.ReadAllText(path) : throw new UsageException($"--chat: no such file: {path}"), path);
        var messages = node is JsonObject o && o.ContainsKey("messages") ? o["messages"] : node;
        return new TokenizeRequest(null, TokenizeRequest.ParseMessages(messages, path), addGenerationPrompt, enableThinking);
    }

    static List<TokenizeRequest> ReadJsonl(string path)
    {
        if (!File.Exists(path)) throw new UsageException($"--jsonl: no such file: {path}");
        var requests = new List<TokenizeRequest>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var where = $"{path}: line {lineNo}";
            requests.Add(TokenizeRequest.Parse(ParseJson(line, where), where));
        }
        return requests;
    }

    static JsonNode? ParseJson(string text, string where)
    {
        try { return JsonNode.Parse(text); }
        catch (JsonException e) { throw new UsageException($"{where}: not valid JSON ({e.Message})"); }
    }
}
