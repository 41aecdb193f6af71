using Klear.Host.Training;

namespace Klear.Host.Distributed;

/// <summary>
/// Whether this process is one rank of an <c>mpiexec</c> job, read from the launcher's environment (MPICH's Hydra and
/// Slurm's PMI set PMI_RANK and PMI_SIZE) before any MPI call, and joining the job. A process started without a
/// launcher, or as the only rank, is the single-process run: MPI is not loaded at all.
/// </summary>
public static class MpiLaunch
{
    /// <summary>This process's rank and the job's size, or null when no launcher started several ranks.</summary>
    public static (int Rank, int Size)? FromEnvironment()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("PMI_SIZE"), out var size) && size > 1
            && int.TryParse(Environment.GetEnvironmentVariable("PMI_RANK"), out var rank))
            return (rank, size);
        if (int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE"), out var ompi) && ompi > 1)
            throw new MpiException("this job was started by Open MPI's mpirun; klear's MPI backend is MPICH (libmpich.so.12): " +
                                   "install mpich and launch with mpiexec.mpich -n N");
        return null;
    }

    /// <summary>The job's collectives: MPI when <paramref name="launch"/> names several ranks, otherwise one process.</summary>
    public static ICollectives Join((int Rank, int Size)? launch)
    {
        if (launch is not { } l) return SingleProcess.Instance;
        MpiCollectives world;
        try { world = MpiCollectives.Init(); }
        catch (DllNotFoundException e)
        {
            throw new MpiException($"mpiexec started {l.Size} ranks but MPICH's library could not be loaded ({e.Message}); " +
                                   "install it: apt-get install mpich");
        }
        if (world.Rank != l.Rank || world.Size != l.Size)
            throw new MpiException($"the launcher said rank {l.Rank} of {l.Size}, MPI says rank {world.Rank} of {world.Size}: " +
                                   "was klear started by a different MPI's mpiexec?");
        return world;
    }
}
