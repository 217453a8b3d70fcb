// Placeholder until the LSTMModel module lands.
