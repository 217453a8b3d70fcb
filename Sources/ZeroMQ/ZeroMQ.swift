// Placeholder until the ZeroMQ module lands.
