// Placeholder until the WireProtocol module lands.
