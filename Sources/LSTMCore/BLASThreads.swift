import CBLAS

/// OpenBLAS's worker-thread count, process-wide. Row steps are small GEMMs that run best on one
/// thread (a second thread slows them when the machine is busy); the trainer's large GEMMs may use
/// more.
public enum BLASThreads {
    /// Sets the number of threads OpenBLAS uses for every following call (n ≥ 1).
    public static func set(_ count: Int) {
        precondition(count >= 1, "BLAS thread count \(count)")
        openblas_set_num_threads(Int32(clamping: count))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var current: Int { Int(openblas_get_num_threads()) }
}
