/// System packages some tests need. When one is missing, the tests that need it do not each fail with a stack trace:
/// one test fails with the line that installs it, and the others are marked pending. `./test` installs them first.
module Klear.Tests.Requirements

open System
open Expecto
open Klear.Host.Rewards.Sandbox

/// The sandbox's tools that this machine lacks (bwrap, dash, python3, setpriv when run as root).
let sandboxMissing = PythonSandbox.MissingTools(Environment.IsPrivilegedProcess) |> List.ofSeq

let sandboxInstallLine = "apt-get install -y --no-install-recommends bubblewrap util-linux python3"

/// A test that runs programs in the sandbox: pending when the sandbox's tools are missing.
let sandboxTest name = if sandboxMissing.IsEmpty then test name else ptest name

/// The sandbox's own test list, or one failing test naming what to install.
let sandboxList name (tests: Test list) =
    if sandboxMissing.IsEmpty then testList name tests
    else
        testList name [
            test "system packages" {
                failtestf "the sandbox needs %s, not found on this machine; run as root: %s (./test does this itself)"
                    (String.Join(", ", sandboxMissing)) sandboxInstallLine
            }
        ]
