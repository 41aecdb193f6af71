using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Klear.Host.Training;

/// <summary>
/// TorchSharp's AdamW with the same arithmetic, state and checkpoint format, stepped one parameter at a time.
/// TorchSharp runs the whole step in one dispose scope, so every parameter's <c>sqrt(v)</c> and denominator stay
/// alive until the last parameter is done: two extra copies of the model (~4.8 GiB at Qwen3-0.6B size) at the moment
/// the gradients and both moments are already resident. Here each parameter's one
/// temporary goes before the next parameter's (<c>klear model memory</c> shows the
/// peak; the steps are bit-identical to TorchSharp's, by test).
/// </summary>
public sealed class LeanAdamW : AdamW
{
    public LeanAdamW(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2, double eps, double weightDecay)
        : base(parameters, lr, beta1, beta2, eps, weightDecay)
    {
        // TorchSharp makes each moment zeros_like(param), which copies a parameter's [in, out] storage
        // (Model.WeightLayout), and its state-dict writer reads a tensor's bytes, which it refuses for a non-contiguous
        // one. Contiguous moments keep optimizer.bin what it always was ([out, in], row-major); the update's
        // elementwise ops take operands of either layout.
        foreach (var group in _parameter_groups)
            foreach (var param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                if (state.exp_avg.is_contiguous() && state.exp_avg_sq.is_contiguous()) continue;
                state.exp_avg.Dispose();
                state.exp_avg_sq.Dispose();
                state.exp_avg = torch.zeros(param.shape, param.dtype, param.device).DetachFromDisposeScope();
                state.exp_avg_sq = torch.zeros(param.shape, param.dtype, param.device).DetachFromDisposeScope();
            }
    }

    public override Tensor step(Func<Tensor>? closure = null)
    {
        Tensor? loss = null;
        if (closure is not null)
            using (torch.enable_grad()) loss = closure();
        using var noGrad = torch.no_grad();
        foreach (var group in _parameter_groups)
        {
            var o = (Options)group.Options;
            if (o.amsgrad == true || o.maximize == true) throw new NotSupportedException("LeanAdamW: amsgrad and maximize are not supported");
            foreach (var param in group.Parameters) Update(param, o);
        }
        return loss!;
    }

    // TorchSharp's AdamW update for one parameter (decoupled decay, bias-corrected moments), op for op.
    void Update(Parameter param, Options o)
    {
        using var scope = torch.NewDisposeScope();
        var grad = param.grad;
        if (grad is null) return;
        var state = (State)_state[param.Handle];
        state.step += 1;
        double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value;
        // Scalars held until the end of the scope: TorchSharp's implicit double → Scalar temporaries can be finalized
        // while the native call that reads them is still running (docs/platform.md, "Scalars and the GC").
        using var decay = (1 - lr * o.weight_decay!.Value).ToScalar();
        using var keep1 = beta1.ToScalar();
        using var take1 = (1 - beta1).ToScalar();
        using var keep2 = beta2.ToScalar();
        using var take2 = (1 - beta2).ToScalar();
        using var correction2 = Math.Sqrt(1 - Math.Pow(beta2, state.step)).ToScalar();
        using var eps = o.eps!.Value.ToScalar();
        using var stepSize = (-lr / (1 - Math.Pow(beta1, state.step))).ToScalar();
        param.mul_(decay);
        state.exp_avg.mul_(keep1).add_(grad, alpha: take1);
        state.exp_avg_sq.mul_(keep2).addcmul_(grad, grad, value: take2);
        var denom = state.exp_avg_sq.sqrt().div_(correction2).add_(eps);
        param.addcdiv_(state.exp_avg, denom, value: stepSize);
    }
}
