// Placeholder until the LSTMTraining module lands.
