import CBLAS

/// OpenBLAS's worker-thread count, process-wide, for the trainer's GEMMs (LSTMTraining). Inference
/// does not use BLAS: `LSTMStepper` runs its own kernels on the calling thread.
public enum BLASThreads {
    /// Sets the number of threads OpenBLAS uses for every following call (n ≥ 1).
    public static func set(_ count: Int) {
        precondition(count >= 1, "BLAS thread count \(count)")
        openblas_set_num_threads(Int32(clamping: count))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var current: Int { Int(openblas_get_num_threads()) }
}
