import Foundation

/// The standard `process_*` metrics of Prometheus client libraries, read from `/proc` (Linux):
/// CPU seconds, resident and virtual memory, open and maximum file descriptors, start time.
public struct ProcessMetrics: Equatable, Sendable {
    public var cpuSeconds: Double
    public var residentBytes: Int
    public var virtualBytes: Int
    public var openFileDescriptors: Int
    public var maxFileDescriptors: Int
    /// Seconds since the Unix epoch.
    public var startTimeSeconds: Double

    public init(cpuSeconds: Double, residentBytes: Int, virtualBytes: Int, openFileDescriptors: Int,
                maxFileDescriptors: Int, startTimeSeconds: Double) {
        self.cpuSeconds = cpuSeconds
        self.residentBytes = residentBytes
        self.virtualBytes = virtualBytes
        self.openFileDescriptors = openFileDescriptors
        self.maxFileDescriptors = maxFileDescriptors
        self.startTimeSeconds = startTimeSeconds
    }

    /// The calling process's figures now; nil where `/proc` is not available.
    public static func current() -> ProcessMetrics? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let system = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let bootTime = bootTime(procStat: system) else { return nil }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        var limit = rlimit()
        let maxDescriptors = getrlimit(DescriptorLimit.resource, &limit) == 0 ? Int(clamping: limit.rlim_cur) : 0
        return parse(stat: stat, bootTime: bootTime, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))),
                     pageSize: Int(sysconf(Int32(_SC_PAGESIZE))), openFileDescriptors: descriptors,
                     maxFileDescriptors: maxDescriptors)
    }

    /// The figures in `/proc/self/stat`'s text (proc(5)): utime and stime (fields 14, 15),
    /// starttime (22), vsize (23) and rss (24). The command name (field 2) may hold spaces and
    /// parentheses, so fields are counted from its last `)`.
    public static func parse(stat: String, bootTime: Double, ticksPerSecond: Double, pageSize: Int,
                             openFileDescriptors: Int, maxFileDescriptors: Int) -> ProcessMetrics? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
        guard let user = field(14), let system = field(15), let start = field(22), let virtual = field(23),
              let resident = field(24), ticksPerSecond > 0 else { return nil }
        return ProcessMetrics(cpuSeconds: (user + system) / ticksPerSecond, residentBytes: Int(resident) * pageSize,
                              virtualBytes: Int(virtual), openFileDescriptors: openFileDescriptors,
                              maxFileDescriptors: maxFileDescriptors, startTimeSeconds: bootTime + start / ticksPerSecond)
    }

    /// `btime` of `/proc/stat`: when the system booted, in seconds since the epoch.
    public static func bootTime(procStat: String) -> Double? {
        procStat.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) }
    }

    /// The Prometheus text exposition, each family with HELP and TYPE.
    public var exposition: String {
        func family(_ family: MetricFamily, _ value: String) -> String { family.header + "\(family.name) \(value)\n" }
        return family(.processCPUSeconds, "\(cpuSeconds)")
            + family(.processResidentMemory, "\(residentBytes)")
            + family(.processVirtualMemory, "\(virtualBytes)")
            + family(.processOpenFDs, "\(openFileDescriptors)")
            + family(.processMaxFDs, "\(maxFileDescriptors)")
            + family(.processStartTime, "\(startTimeSeconds)")
    }
}
