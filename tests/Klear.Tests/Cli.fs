/// Runs the real `klear` program (klear.dll beside the test assembly) as a child process.
module Klear.Tests.Cli

open System
open System.Diagnostics
open System.IO

type Run =
    { ExitCode: int
      Stdout: string
      Stderr: string }

let klearDll = Path.Combine(AppContext.BaseDirectory, "klear.dll")

/// Runs any program to completion (within `limit`) and captures its output.
let runProcessWithin (limit: TimeSpan) (file: string) (args: string list) =
    let psi = ProcessStartInfo(file, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    for a in args do psi.ArgumentList.Add a
    use p = Process.Start psi
    let stdout = p.StandardOutput.ReadToEndAsync()
    let stderr = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit limit) then
        p.Kill true
        failwithf "%s %s did not finish in %.0f minutes" file (String.Join(" ", args)) limit.TotalMinutes
    { ExitCode = p.ExitCode; Stdout = stdout.Result; Stderr = stderr.Result }

/// Runs any program to completion (2 minutes at most) and captures its output.
let runProcess (file: string) (args: string list) = runProcessWithin (TimeSpan.FromMinutes 2.0) file args

/// Runs `klear` with these arguments.
let run (args: string list) = runProcess "dotnet" (klearDll :: args)

/// Runs `klear` with these arguments, for runs longer than 2 minutes.
let runWithin (limit: TimeSpan) (args: string list) = runProcessWithin limit "dotnet" (klearDll :: args)
