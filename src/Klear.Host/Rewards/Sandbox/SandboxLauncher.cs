using System.Diagnostics;

namespace Klear.Host.Rewards.Sandbox;

/// <summary>
/// The chain every sandbox starts through: a dash launcher (rlimits, cgroups), setpriv (drop to the sandbox uid; as
/// root, RLIMIT_NPROC is not enforced), bwrap (namespaces and mounts). Cold runs and warm workers differ only in the
/// limits the launcher sets, what is bound at /sandbox, the environment and the command bwrap runs.
/// </summary>
internal static class SandboxLauncher
{
    // The launcher sets the rlimits with dash's ulimit builtin (one exec fewer than prlimit; the chain of execs is most
    // of the sandbox's cost; bash's ulimit flags differ, hence dash by path), joins the cgroups before exec'ing, so
    // even the program's first fork is accounted, then execs the rest.
    // Arguments: cpu-soft cpu-hard as-KiB fsize-512B-blocks nofile nproc [cgroup.procs files] -- command.
    const string LauncherScript =
        "ulimit -S -t $1 && ulimit -H -t $2 && ulimit -v $3 && ulimit -f $4 && ulimit -n $5 && ulimit -p $6 && ulimit -c 0 " +
        "|| exit 125; shift 6; " +
        "for f in \"$@\"; do shift; [ \"$f\" = -- ] && break; echo $$ > \"$f\" || exit 125; done; exec \"$@\"";

    /// <param name="cpuSoft">RLIMIT_CPU soft limit in seconds, or "unlimited".</param>
    /// <param name="processes">RLIMIT_NPROC (of the uid, host-wide).</param>
    /// <param name="bind">Host path bound read-only at <paramref name="bindTarget"/>.</param>
    /// <param name="env">Variables set besides PATH, HOME and LANG.</param>
    /// <param name="capabilities">Capabilities (of the sandbox's own user namespace) kept for pid 1; none for a run.</param>
    /// <param name="command">What bwrap runs as the namespace's pid 1.</param>
    public static ProcessStartInfo Create(SandboxLimits l, bool dropPrivileges, SandboxCgroup? cgroup,
                                          string cpuSoft, string cpuHard, int maxOpenFiles, int processes,
                                          string bind, string bindTarget, (string Name, string Value) env,
                                          IEnumerable<string> capabilities, IEnumerable<string> command)
    {
        var psi = new ProcessStartInfo
        {
            FileName = "/bin/dash",
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["-c", LauncherScript, "sh", cpuSoft, cpuHard, (l.AddressSpaceBytes / 1024).ToString(),
                     (l.MaxFileBytes / 512).ToString(), maxOpenFiles.ToString(),
                     processes.ToString()])
            psi.ArgumentList.Add(a);
        foreach (var f in cgroup?.ProcsFiles ?? []) psi.ArgumentList.Add(f);
        psi.ArgumentList.Add("--");
        var uid = l.SandboxUid.ToString();
        if (dropPrivileges)
            foreach (var a in (string[])["/usr/bin/setpriv", $"--reuid={uid}", $"--regid={uid}", "--clear-groups"])
                psi.ArgumentList.Add(a);
        foreach (var a in (string[])[
                     "/usr/bin/bwrap",
                     "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
                     "--hostname", "sandbox",
                     "--ro-bind", "/usr", "/usr",
                     "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                     "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
                     "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
                     "--size", l.WorkDirBytes.ToString(), "--tmpfs", "/tmp",
                     "--ro-bind", bind, bindTarget,
                     "--remount-ro", "/",
                     "--chdir", "/tmp",
                     "--clearenv", "--setenv", "PATH", "/usr/bin", "--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8",
                     "--setenv", env.Name, env.Value])
            psi.ArgumentList.Add(a);
        foreach (var cap in capabilities)
        {
            psi.ArgumentList.Add("--cap-add");
            psi.ArgumentList.Add(cap);
        }
        foreach (var a in (string[])[
                     // bwrap's own pid-1 outlives its monitor and is left a zombie for the host's init to reap (slowly;
                     // it holds a pids-cgroup slot meanwhile). With --as-pid-1 the monitor reaps its direct child itself.
                     "--as-pid-1",
                     "--"])
            psi.ArgumentList.Add(a);
        foreach (var a in command) psi.ArgumentList.Add(a);
        return psi;
    }
}
