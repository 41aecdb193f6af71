using System.Threading.Channels;

namespace Klear.Host.Rewards.Sandbox;

/// <summary>
/// A fixed number of workers running sandboxed programs from one queue. Every request carries its own completion, so a
/// result can only ever reach the caller that asked for it; a hung program is killed at its timeout and its worker
/// takes the next request; disposing (or cancelling the pool's token, e.g. on Ctrl-C) kills running programs and
/// cancels the queued ones.
/// </summary>
public sealed class SandboxPool : IAsyncDisposable
{
    sealed record Job(SandboxRequest Request, TaskCompletionSource<SandboxResult> Completion, CancellationToken Token);

    readonly PythonSandbox _sandbox;
    readonly Channel<Job> _queue = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = false });
    readonly CancellationTokenSource _shutdown;
    readonly Task[] _workers;

    public int Workers => _workers.Length;
    public PythonSandbox Sandbox => _sandbox;

    /// <param name="workers">Concurrent programs; defaults to the core count (each program is one busy core).</param>
    /// <param name="shutdown">Cancelling it shuts the pool down as <see cref="DisposeAsync"/> does.</param>
    public SandboxPool(PythonSandbox sandbox, int? workers = null, CancellationToken shutdown = default)
    {
        _sandbox = sandbox;
        var n = workers ?? Environment.ProcessorCount;
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(workers));
        _shutdown = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        _shutdown.Token.Register(() => _queue.Writer.TryComplete());
        _workers = Enumerable.Range(0, n).Select(_ => Task.Run(WorkAsync)).ToArray();
    }

    public Task<SandboxResult> RunAsync(SandboxRequest request, CancellationToken ct = default)
    {
        var completion = new TaskCompletionSource<SandboxResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new Job(request, completion, ct)))
            completion.TrySetException(new ObjectDisposedException(nameof(SandboxPool), "the sandbox pool is shut down"));
        else if (ct.CanBeCanceled)
        {
            // A queued request cancelled by its caller completes now; its worker skips it when it comes up.
            var registration = ct.Register(() => completion.TrySetCanceled(ct));
            completion.Task.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
        }
        return completion.Task;
    }

    /// <summary>Runs all requests; result i belongs to request i.</summary>
    public Task<SandboxResult[]> RunAllAsync(IEnumerable<SandboxRequest> requests, CancellationToken ct = default) =>
        Task.WhenAll(requests.Select(r => RunAsync(r, ct)).ToList());

    async Task WorkAsync()
    {
        await foreach (var job in _queue.Reader.ReadAllAsync(CancellationToken.None))
        {
            if (_shutdown.IsCancellationRequested || job.Token.IsCancellationRequested)
            {
                job.Completion.TrySetCanceled();
                continue;
            }
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token, job.Token);
            try { job.Completion.TrySetResult(await _sandbox.RunAsync(job.Request, linked.Token)); }
            catch (OperationCanceledException) { job.Completion.TrySetCanceled(); }
            // One failing launch fails that request only; the worker lives on.
            catch (Exception e) { job.Completion.TrySetException(e); }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_shutdown.IsCancellationRequested) _shutdown.Cancel();
        _queue.Writer.TryComplete();
        await Task.WhenAll(_workers);
        while (_queue.Reader.TryRead(out var job)) job.Completion.TrySetCanceled();
        _shutdown.Dispose();
    }
}
