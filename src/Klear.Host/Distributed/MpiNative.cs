using System.Runtime.InteropServices;
using System.Text;

namespace Klear.Host.Distributed;

/// <summary>
/// The dozen MPI calls the trainer needs, bound directly to MPICH's C library. MPICH's ABI (shared by Intel MPI,
/// MVAPICH and Cray MPICH) makes handles plain ints with fixed values from its mpi.h, so no header is read at run time;
/// the values below are those of Debian's MPICH 4.0.2 mpi.h (docs/distributed.md says why this and not MPI.NET).
/// </summary>
internal static class MpiNative
{
    const string Lib = "libmpich.so.12";

    public const int CommWorld = 0x44000000;
    public const int MpiByte = 0x4c00010d;
    public const int MpiInt = 0x4c000405;
    public const int MpiFloat = 0x4c00040a;
    public const int MpiDouble = 0x4c00080b;
    public const int Sum = 0x58000003;
    public const int ErrorsReturn = 0x54000001;
    public const int ThreadSerialized = 2;
    public const int Success = 0;
    public static readonly IntPtr InPlace = new(-1);

    [DllImport(Lib)] public static extern int MPI_Initialized(out int flag);
    [DllImport(Lib)] public static extern int MPI_Init_thread(IntPtr argc, IntPtr argv, int required, out int provided);
    [DllImport(Lib)] public static extern int MPI_Finalize();
    [DllImport(Lib)] public static extern int MPI_Abort(int comm, int errorCode);
    [DllImport(Lib)] public static extern int MPI_Comm_rank(int comm, out int rank);
    [DllImport(Lib)] public static extern int MPI_Comm_size(int comm, out int size);
    [DllImport(Lib)] public static extern int MPI_Comm_set_errhandler(int comm, int errhandler);
    [DllImport(Lib)] public static extern int MPI_Barrier(int comm);
    [DllImport(Lib)] public static extern int MPI_Allreduce(IntPtr send, IntPtr recv, int count, int datatype, int op, int comm);
    [DllImport(Lib)] public static extern int MPI_Allgather(int[] send, int sendCount, int sendType, int[] recv, int recvCount, int recvType, int comm);
    [DllImport(Lib)] public static extern int MPI_Allgatherv(byte[] send, int sendCount, int sendType, byte[] recv, int[] recvCounts, int[] displacements, int recvType, int comm);
    [DllImport(Lib)] public static extern int MPI_Bcast(byte[] buffer, int count, int datatype, int root, int comm);
    [DllImport(Lib)] public static extern int MPI_Bcast(int[] buffer, int count, int datatype, int root, int comm);
    [DllImport(Lib)] public static extern int MPI_Error_string(int code, byte[] text, out int length);

    /// <summary>Throws with MPI's own text when a call did not succeed (errors return rather than abort, see MpiCollectives).</summary>
    public static void Check(int code, string call)
    {
        if (code == Success) return;
        var text = new byte[1024];
        var described = MPI_Error_string(code, text, out var length) == Success ? Encoding.ASCII.GetString(text, 0, length) : $"error {code}";
        throw new MpiException($"{call} failed: {described}");
    }
}
