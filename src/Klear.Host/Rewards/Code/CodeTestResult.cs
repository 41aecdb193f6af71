using Klear.Host.Rewards.Sandbox;

namespace Klear.Host.Rewards.Code;

/// <summary>The verdict on one test with the run behind it.</summary>
public sealed record CodeTestResult(int Index, CodeTestStatus Status, CodeTestCase Test, SandboxResult Run);
