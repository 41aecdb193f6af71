using System.Diagnostics;
using System.Reflection;

namespace Klear.Host.Distributed;

/// <summary>
/// Starts this klear command again as several ranks under MPICH's <c>mpiexec</c> on this machine, so
/// <c>klear quickstart --ranks 2</c> is the same job as <c>mpiexec -n 2 dotnet klear.dll quickstart</c>. The child
/// job inherits the terminal; its exit code is this process's.
/// </summary>
public static class MpiExec
{
    /// <summary>Debian's name for MPICH's launcher (plain <c>mpiexec</c> may be Open MPI's, which klear refuses).</summary>
    public const string Launcher = "/usr/bin/mpiexec.mpich";

    public static bool Available => File.Exists(Launcher);

    /// <summary>Runs <paramref name="klearArguments"/> (the command and its options, without the rank option) as
    /// <paramref name="ranks"/> ranks and waits for the job.</summary>
    public static int Run(int ranks, IEnumerable<string> klearArguments)
    {
        var psi = new ProcessStartInfo(Launcher) { UseShellExecute = false };
        psi.ArgumentList.Add("-n");
        psi.ArgumentList.Add($"{ranks}");
        var self = Environment.ProcessPath ?? throw new MpiException("cannot tell which program this is to start it under mpiexec");
        psi.ArgumentList.Add(self);
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        foreach (var a in klearArguments) psi.ArgumentList.Add(a);
        using var job = Process.Start(psi) ?? throw new MpiException($"{Launcher} did not start");
        job.WaitForExit();
        return job.ExitCode;
    }
}
