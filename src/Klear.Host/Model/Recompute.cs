using TorchSharp;
using static TorchSharp.torch;

namespace Klear.Host.Model;

/// <summary>
/// Gradient checkpointing (TorchSharp has none): <see cref="Run"/> computes a function without recording its graph,
/// keeping only its inputs, and recomputes it with the graph during backward, where the recomputed graph's own backward
/// delivers the gradients: those of the inputs are returned, those of the parameters the function reads accumulate into
/// their <c>.grad</c> directly, as PyTorch's reentrant <c>torch.utils.checkpoint</c> does. The memory of the function's
/// intermediate activations then lives only while its backward runs, at the price of a second forward.
/// <para>
/// The function must be deterministic (Klear's decoder has no dropout) and must read every tensor that is not a
/// long-lived parameter from its arguments: a captured temporary may be disposed by its scope before backward runs.
/// Every output should feed the loss: one that does not arrives in backward as an undefined gradient, which TorchSharp
/// wraps in a handle-less tensor that its live-tensor statistics never count as released.
/// </para>
/// </summary>
public sealed class Recompute : autograd.MultiTensorFunction<Recompute>
{
    // The gradients handed back to libtorch must outlive the callback, which copies them only after it returns; each
    // is disposed at the thread's next recompute instead of waiting for the caller's scope (28 layers' worth otherwise).
    [ThreadStatic] static List<Tensor>? _handedOver;

    public override string Name => nameof(Recompute);

    /// <summary>The outputs of <paramref name="function"/>(<paramref name="inputs"/>), differentiable with respect to the
    /// inputs that require grad and to the parameters the function uses. Inputs may be null (e.g. no mask).</summary>
    public static Tensor[] Run(Func<Tensor?[], Tensor[]> function, params Tensor?[] inputs)
    {
        var args = new object?[inputs.Length + 1];
        args[0] = function;
        inputs.CopyTo(args, 1);
        return apply(args!).ToArray();
    }

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var function = (Func<Tensor?[], Tensor[]>)vars[0];
        var inputs = vars.Skip(1).Select(v => v as Tensor).ToArray();
        ctx.save_data("function", function);
        ctx.save_data("needs_grad", inputs.Select(t => t is { requires_grad: true }).ToArray());
        ctx.save_for_backward(inputs.ToList()!);
        // An output nobody differentiated then arrives as an undefined gradient, skipped below. (Materialising zeros
        // instead reads TorchSharp's placeholder copies of the outputs, which die with the caller's scope.)
        ctx.set_materialize_grads(false);
        return function(inputs).ToList();   // autograd is off here (apply runs forward without a graph)
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        ReleaseHandedOver();
        var function = (Func<Tensor?[], Tensor[]>)ctx.get_data("function");
        var needsGrad = (bool[])ctx.get_data("needs_grad");
        using var scope = torch.NewDisposeScope();
        var inputs = ctx.get_saved_variables()
            .Select((t, i) => t is null ? null : needsGrad[i] ? t.detach().requires_grad_(true) : t).ToArray();
        using (torch.enable_grad())
        {
            var outputs = function(inputs);
            var live = outputs.Select((o, i) => (Output: o, Grad: gradOutputs[i]))
                .Where(p => p.Output.requires_grad && p.Grad is { IsInvalid: false }).ToList();
            if (live.Count > 0) torch.autograd.backward(live.Select(p => p.Output).ToList(), live.Select(p => p.Grad).ToList());
        }
        // One gradient per argument of forward: none for the function itself, none for inputs without grad.
        var grads = new List<Tensor> { null! };
        _handedOver ??= [];
        for (int i = 0; i < inputs.Length; i++)
        {
            var grad = needsGrad[i] ? inputs[i]!.grad : null;
            if (grad is not null) _handedOver.Add(grad.DetachFromDisposeScope());
            grads.Add(grad!);
        }
        return grads;
    }

    static void ReleaseHandedOver()
    {
        if (_handedOver is null) return;
        foreach (var t in _handedOver) t.Dispose();
        _handedOver.Clear();
    }
}
