#!/usr/bin/python3
"""Data-parallel benchmark of `klear quickstart`: wall time and the RL step split (generation, reward scoring, update)
for 1 process x 1 thread, 1 process x 2 threads and `mpiexec -n 2` x 1 thread, plus the all-reduce seconds and bytes
per RL step, and a projection to 8 and 64 ranks from those figures (docs/distributed.md explains the model).

  bench/data_parallel.py [--size tiny|quickstart] [--klear PATH/klear.dll] [extra key=value overrides ...]

`--size quickstart` (default) runs README's main job three times (many minutes); `--size tiny` runs a seconds-long
version to check the script. Timings are only fair on an otherwise idle machine: the script prints the load average.
Needs MPICH (`mpiexec.mpich`); installs nothing.
"""
import argparse, glob, json, os, subprocess, sys, tempfile, time

TINY = ["sft.steps=4", "sft.batch_size=8", "trainer.steps=4", "trainer.eval_every=0", "model.layers=1", "model.hidden=32",
        "model.heads=2", "model.kv_heads=1", "trainer.prompts_per_step=4", "rollout.n=4", "rollout.max_new_tokens=16",
        "data.eval_problems=8", "eval.k=2", "eval.max_new_tokens=16"]

p = argparse.ArgumentParser()
p.add_argument("--size", choices=["tiny", "quickstart"], default="quickstart")
p.add_argument("--klear", default=os.path.join(os.path.dirname(__file__), "..", "src", "Klear.Host", "bin", "Release",
                                               "net10.0", "linux-x64", "klear.dll"))
p.add_argument("overrides", nargs="*")
a = p.parse_args()
extra = (TINY if a.size == "tiny" else []) + a.overrides

def run(name, prefix, threads):
    out = tempfile.mkdtemp(prefix=f"klear-bench-{name}-")
    cmd = prefix + ["dotnet", a.klear, "quickstart", "--output-dir", out, f"threads={threads}"] + extra
    started = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - started
    if r.returncode != 0:
        sys.exit(f"{name}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    rows = [json.loads(l) for l in open(glob.glob(os.path.join(out, "*", "metrics.jsonl"))[0])]
    rl = [x for x in rows if x["phase"] == "rl" and "perf/update_seconds" in x]
    mean = lambda k: sum(x.get(k, 0.0) for x in rl) / max(1, len(rl))
    return {"run": name, "wall_s": round(wall, 1), "rl_steps": len(rl), "step_s": mean("perf/step_seconds"),
            "gen_s": mean("perf/gen_seconds"), "reward_s": mean("perf/reward_seconds"), "update_s": mean("perf/update_seconds"),
            "allreduce_s": mean("perf/allreduce_seconds"), "allreduce_bytes": mean("perf/allreduce_bytes")}

print(f"load average before: {os.getloadavg()[0]:.2f} (on a busy machine these timings are not fair)")
results = [run("1x1", [], 1), run("1x2", [], 2), run("mpi2x1", ["mpiexec.mpich", "-n", "2"], 1)]
print(f"{'run':8} {'wall s':>8} {'RL step s':>10} {'gen s':>8} {'reward s':>9} {'update s':>9} {'allreduce s':>12} {'allreduce MB':>13}")
for r in results:
    print(f"{r['run']:8} {r['wall_s']:8.1f} {r['step_s']:10.3f} {r['gen_s']:8.3f} {r['reward_s']:9.3f} {r['update_s']:9.3f} "
          f"{r['allreduce_s']:12.4f} {r['allreduce_bytes'] / 1e6:13.3f}")
one, two = results[0], results[2]
print(f"speed-up per RL step, mpiexec -n 2 vs 1x1: {one['step_s'] / two['step_s']:.2f}x; wall: {one['wall_s'] / two['wall_s']:.2f}x")

# Projection: the step's compute divides over R ranks; a ring all-reduce moves 2(R-1)/R of the bytes per rank, at the
# bandwidth seen with 2 ranks (which moved 2·(1/2) = 1x the bytes), plus a latency term per call and ring step.
compute = one["step_s"]
bytes_ = two["allreduce_bytes"]
bandwidth = bytes_ / two["allreduce_s"] if two["allreduce_s"] > 0 else float("inf")
for ranks in (8, 64):
    comm = 2 * (ranks - 1) / ranks * bytes_ / bandwidth
    step = compute / ranks + comm
    print(f"projected {ranks} ranks: step {step:.4f} s, communication {100 * comm / step:.1f}% "
          f"(compute {compute:.3f} s / {ranks}, {bytes_ / 1e6:.2f} MB per step at {bandwidth / 1e6:.1f} MB/s measured with 2 ranks, latency ignored)")
