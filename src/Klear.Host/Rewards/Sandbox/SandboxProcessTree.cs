using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Klear.Host.Rewards.Sandbox;

/// <summary>
/// Ends a sandbox from the inside out. bwrap's monitor (our child) waits for the namespace's pid 1; SIGKILLing that
/// pid 1 takes every process in the pid namespace down, and the monitor then reaps it and exits by itself. Killing the
/// monitor first would orphan pid 1's corpse to the host's init, which may reap it late: a zombie left behind.
/// </summary>
internal static class SandboxProcessTree
{
    public static void Kill(Process monitor, SandboxCgroup? cgroup)
    {
        int pid;
        try { if (monitor.HasExited) { cgroup?.KillAll(); return; } pid = monitor.Id; }
        catch (InvalidOperationException) { return; }
        foreach (var child in Children(pid)) _ = SendSignal(child, 9);
        // Whatever the pid-1 kill left (a fork bomb mid-clone) dies here; the monitor is spared so it can reap.
        cgroup?.KillAllExcept(pid);
        if (monitor.WaitForExit(1000)) return;
        try { monitor.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
        cgroup?.KillAll();
    }

    static IEnumerable<int> Children(int pid)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/task/{pid}/children"); }
        catch (IOException) { yield break; }
        foreach (var s in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            if (int.TryParse(s, out var child)) yield return child;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int SendSignal(int pid, int signal);
}
