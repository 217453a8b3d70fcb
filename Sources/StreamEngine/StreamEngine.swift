// Placeholder until the StreamEngine module lands.
