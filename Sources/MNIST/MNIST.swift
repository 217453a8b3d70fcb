// Placeholder until the MNIST module lands.
