namespace Klear.Host.Rollout;

/// <summary>
/// Responses of one batch, in request order: generated tokens (a stop token included), whether a stop token ended
/// the response (false = truncated at MaxNewTokens), and each token's log-probability under the sampling policy
/// (after temperature, top-k and top-p renormalisation).
/// </summary>
public sealed record GenerationResult(int[][] Tokens, bool[] Finished, float[][] LogProbs);
