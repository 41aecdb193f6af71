namespace Klear.Host.Configuration;

/// <summary>A bad configuration file or override; the message names the key.</summary>
public sealed class ConfigException(string message) : Exception(message);
