namespace Klear.Host.Training;

/// <summary>
/// The rollouts one rank generated and scored (its whole prompt groups, in order), in the form ranks exchange them:
/// every rank gathers all shards, so the zero-advantage filter, the kept groups and the advantages are decided on the
/// same global data everywhere.
/// LogProbs are the sampler's per-token log-probs (the rollout correction needs them on every rank).
/// </summary>
public sealed record RolloutShard(int[][] Tokens, bool[] Finished, float[][] LogProbs, double[] Scores, bool[] Correct)
{
    public byte[] ToBytes()
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            w.Write(Tokens.Length);
            for (int i = 0; i < Tokens.Length; i++)
            {
                w.Write(Tokens[i].Length);
                foreach (var t in Tokens[i]) w.Write(t);
                w.Write(LogProbs[i].Length);
                foreach (var l in LogProbs[i]) w.Write(l);
                w.Write(Finished[i]);
                w.Write(Scores[i]);
                w.Write(Correct[i]);
            }
        }
        return stream.ToArray();
    }

    public static RolloutShard FromBytes(byte[] bytes)
    {
        using var r = new BinaryReader(new MemoryStream(bytes));
        int n = r.ReadInt32();
        var (tokens, logProbs, finished, scores, correct) = (new int[n][], new float[n][], new bool[n], new double[n], new bool[n]);
        for (int i = 0; i < n; i++)
        {
            tokens[i] = new int[r.ReadInt32()];
            for (int j = 0; j < tokens[i].Length; j++) tokens[i][j] = r.ReadInt32();
            logProbs[i] = new float[r.ReadInt32()];
            for (int j = 0; j < logProbs[i].Length; j++) logProbs[i][j] = r.ReadSingle();
            (finished[i], scores[i], correct[i]) = (r.ReadBoolean(), r.ReadDouble(), r.ReadBoolean());
        }
        return new RolloutShard(tokens, finished, logProbs, scores, correct);
    }

    /// <summary>Every rank's shard, concatenated in rank order (the rollouts in the order one process makes them).</summary>
    public static RolloutShard Gather(ICollectives world, RolloutShard mine)
    {
        if (world.Size == 1) return mine;
        var all = world.AllGather(mine.ToBytes()).Select(FromBytes).ToList();
        return new RolloutShard([.. all.SelectMany(s => s.Tokens)], [.. all.SelectMany(s => s.Finished)],
            [.. all.SelectMany(s => s.LogProbs)], [.. all.SelectMany(s => s.Scores)], [.. all.SelectMany(s => s.Correct)]);
    }
}
