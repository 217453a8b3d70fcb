import Foundation
import LSTMServer
import Testing

@Suite struct ProcessMetricsTests {
    @Test func parsesProcSelfStatWithAnAwkwardCommandName() throws {
        // proc(5) fields, with a command name holding spaces and parentheses.
        var fields = (3...52).map { "\($0)" }
        fields[14 - 3] = "250"       // utime, ticks
        fields[15 - 3] = "50"        // stime
        fields[22 - 3] = "12000"     // starttime, ticks after boot
        fields[23 - 3] = "987654321" // vsize, bytes
        fields[24 - 3] = "300"       // rss, pages
        let stat = "4242 (lstmd (a) b) " + fields.joined(separator: " ") + "\n"
        let bootTime = try #require(ProcessMetrics.bootTime(procStat: "cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"))
        let metrics = try #require(ProcessMetrics.parse(stat: stat, bootTime: bootTime, ticksPerSecond: 100, pageSize: 4096,
                                                        openFileDescriptors: 12, maxFileDescriptors: 65536))
        #expect(metrics == ProcessMetrics(cpuSeconds: 3, residentBytes: 1_228_800, virtualBytes: 987_654_321,
                                          openFileDescriptors: 12, maxFileDescriptors: 65536, startTimeSeconds: 1_700_000_120))
        #expect(ProcessMetrics.parse(stat: "4242 (x) S 1", bootTime: 0, ticksPerSecond: 100, pageSize: 4096,
                                     openFileDescriptors: 0, maxFileDescriptors: 0) == nil)
    }

    @Test func theCurrentProcessIsMeasuredAndExposedWithHelpAndType() throws {
        let metrics = try #require(ProcessMetrics.current())
        #expect(metrics.residentBytes > 1_000_000 && metrics.openFileDescriptors >= 3 && metrics.maxFileDescriptors > 0)
        #expect(abs(metrics.startTimeSeconds - Date().timeIntervalSince1970) < 24 * 3600, "started within the day")
        let text = ServerMetrics().exposition()
        for family in ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                       "process_start_time_seconds", "process_max_fds", "process_virtual_memory_bytes"] {
            #expect(text.contains("# HELP \(family) ") && text.contains("# TYPE \(family) ")
                    && text.contains("\n\(family) "), "\(family)")
        }
    }
}
