using System.Buffers.Binary;
using System.Text;

namespace Klear.Host.Rewards.Sandbox;

/// <summary>
/// Frames between the host and a warm worker's zygote (zygote.py, which must agree field by field). Little-endian.
/// Request: "KZRQ", sequence, run id (16 ASCII bytes), timeout ms, CPU soft and hard seconds, address space bytes, file
/// size bytes, open files, processes, output cap bytes, stdin length; then stdin. The program itself travels as the
/// file the worker has bound at /sandbox/main.py, so tracebacks quote its lines as python3 main.py would.
/// Response: "KZRS", the request's sequence, outcome, exit code, survivors, stdout length, stderr length; then both;
/// then "KZOK" once the run's supervisor process has exited. The ready frame at start-up has sequence 0.
/// </summary>
internal static class ZygoteProtocol
{
    public const int RequestHeaderBytes = 72;
    public const int ResponseHeaderBytes = 29;
    public static ReadOnlySpan<byte> IdleMarker => "KZOK"u8;

    public enum Outcome : byte { Exited = 0, TimedOut = 1, OutputLimit = 2, InternalError = 3 }

    public readonly record struct Response(ulong Sequence, Outcome Outcome, int ExitCode, int Survivors, int StdoutBytes, int StderrBytes);

    public static byte[] Request(ulong sequence, string runId, TimeSpan wall, int cpuSoft, int cpuHard, int processes,
                                 SandboxLimits l, byte[] stdin)
    {
        if (runId.Length != 16 || !runId.All(char.IsAsciiLetterOrDigit))
            throw new ArgumentException("run ids are 16 ASCII letters or digits", nameof(runId));
        var frame = new byte[RequestHeaderBytes + stdin.Length];
        var s = frame.AsSpan();
        "KZRQ"u8.CopyTo(s);
        BinaryPrimitives.WriteUInt64LittleEndian(s[4..], sequence);
        Encoding.ASCII.GetBytes(runId, s[12..28]);
        BinaryPrimitives.WriteUInt32LittleEndian(s[28..], (uint)Math.Ceiling(wall.TotalMilliseconds));
        BinaryPrimitives.WriteUInt32LittleEndian(s[32..], (uint)cpuSoft);
        BinaryPrimitives.WriteUInt32LittleEndian(s[36..], (uint)cpuHard);
        BinaryPrimitives.WriteUInt64LittleEndian(s[40..], (ulong)l.AddressSpaceBytes);
        // The cold launcher sets RLIMIT_FSIZE in 512-byte blocks: round the same way so both modes enforce one limit.
        BinaryPrimitives.WriteUInt64LittleEndian(s[48..], (ulong)(l.MaxFileBytes / 512 * 512));
        BinaryPrimitives.WriteUInt32LittleEndian(s[56..], (uint)l.MaxOpenFiles);
        BinaryPrimitives.WriteUInt32LittleEndian(s[60..], (uint)processes);
        BinaryPrimitives.WriteUInt32LittleEndian(s[64..], (uint)l.MaxOutputBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(s[68..], (uint)stdin.Length);
        stdin.CopyTo(s[RequestHeaderBytes..]);
        return frame;
    }

    /// <exception cref="InvalidDataException">Not a response frame.</exception>
    public static Response ParseResponse(ReadOnlySpan<byte> header)
    {
        if (header.Length != ResponseHeaderBytes || !header[..4].SequenceEqual("KZRS"u8))
            throw new InvalidDataException("not a zygote response frame");
        var outcome = header[12];
        if (outcome > (byte)Outcome.InternalError) throw new InvalidDataException($"unknown zygote outcome {outcome}");
        var stdout = BinaryPrimitives.ReadInt32LittleEndian(header[21..]);
        var stderr = BinaryPrimitives.ReadInt32LittleEndian(header[25..]);
        if (stdout < 0 || stderr < 0) throw new InvalidDataException("negative output length");
        return new Response(BinaryPrimitives.ReadUInt64LittleEndian(header[4..]), (Outcome)outcome,
            BinaryPrimitives.ReadInt32LittleEndian(header[13..]), BinaryPrimitives.ReadInt32LittleEndian(header[17..]),
            stdout, stderr);
    }
}
