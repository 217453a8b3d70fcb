// Placeholder until the LSTMServer module lands.
