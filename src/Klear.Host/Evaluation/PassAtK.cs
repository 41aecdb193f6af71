namespace Klear.Host.Evaluation;

/// <summary>The unbiased pass@k estimator (Chen et al. 2021): 1 - C(n-c, k) / C(n, k) for c correct of n samples.</summary>
public static class PassAtK
{
    public static double Estimate(int n, int c, int k)
    {
        if (k < 1 || k > n) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be in [1, n = {n}]");
        if (c < 0 || c > n) throw new ArgumentOutOfRangeException(nameof(c), c, $"c must be in [0, n = {n}]");
        if (n - c < k) return 1.0;
        // Product form avoids huge binomials: prod_{i=n-c+1..n} (1 - k/i).
        double miss = 1.0;
        for (int i = n - c + 1; i <= n; i++) miss *= 1.0 - (double)k / i;
        return 1.0 - miss;
    }
}
