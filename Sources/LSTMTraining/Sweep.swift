import Foundation

/// One row of a num_units sweep.
public struct SweepResult: Sendable, Equatable {
    public var hiddenUnits: Int
    public var parameterCount: Int
    public var testAccuracy: Double
    public var trainingSeconds: Double
    /// Median time of one single-row step (B = 1) with LSTMStepper, in microseconds.
    public var stepMicroseconds: Double

    public init(hiddenUnits: Int, parameterCount: Int, testAccuracy: Double, trainingSeconds: Double, stepMicroseconds: Double) {
        self.hiddenUnits = hiddenUnits
        self.parameterCount = parameterCount
        self.testAccuracy = testAccuracy
        self.trainingSeconds = trainingSeconds
        self.stepMicroseconds = stepMicroseconds
    }
}

/// The sweep's Markdown table and SVG chart.
public enum SweepReport {
    public static func markdown(_ results: [SweepResult], epochs: Int) -> String {
        var text = """
        # Test accuracy against num_units (\(epochs) epoch\(epochs == 1 ? "" : "s") each)

        num_units is the width of h and c, and of each of the four gate blocks (i, f, g, o):
        the LSTM layer has 4·H·(I + H + 2) parameters, so cost grows with H².

        | num_units | parameters | test accuracy | training time (s) | row step, B = 1 (µs) |
        |---:|---:|---:|---:|---:|

        """
        for r in results {
            text += "| \(r.hiddenUnits) | \(r.parameterCount) | \(String(format: "%.2f %%", 100 * r.testAccuracy)) "
                + "| \(String(format: "%.1f", r.trainingSeconds)) | \(String(format: "%.1f", r.stepMicroseconds)) |\n"
        }
        return text
    }

    /// Accuracy (%) against num_units on a log₂ x-axis, hand-written SVG.
    public static func svg(_ results: [SweepResult], epochs: Int) -> String {
        let width = 640.0, height = 400.0, left = 70.0, right = 30.0, top = 50.0, bottom = 60.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let logs = results.map { log2(Double($0.hiddenUnits)) }
        let accuracies = results.map { 100 * $0.testAccuracy }
        let xLow = (logs.min() ?? 0).rounded(.down), xHigh = max((logs.max() ?? 1).rounded(.up), xLow + 1)
        let yLow = max(0, ((accuracies.min() ?? 0) - 1).rounded(.down)), yHigh = min(100, ((accuracies.max() ?? 100) + 1).rounded(.up))
        let ySpan = max(yHigh - yLow, 1)
        func x(_ v: Double) -> Double { left + (v - xLow) / (xHigh - xLow) * plotWidth }
        func y(_ v: Double) -> Double { top + (yHigh - v) / ySpan * plotHeight }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="24" text-anchor="middle" font-size="15">MNIST test accuracy against num_units (\(epochs) epoch\(epochs == 1 ? "" : "s"))</text>
        <line x1="\(f(left))" y1="\(f(top + plotHeight))" x2="\(f(left + plotWidth))" y2="\(f(top + plotHeight))" stroke="black"/>
        <line x1="\(f(left))" y1="\(f(top))" x2="\(f(left))" y2="\(f(top + plotHeight))" stroke="black"/>

        """
        var tick = xLow
        while tick <= xHigh {
            svg += "<line x1=\"\(f(x(tick)))\" y1=\"\(f(top))\" x2=\"\(f(x(tick)))\" y2=\"\(f(top + plotHeight))\" stroke=\"#ddd\"/>\n"
            svg += "<text x=\"\(f(x(tick)))\" y=\"\(f(top + plotHeight + 18))\" text-anchor=\"middle\">\(Int(pow(2, tick)))</text>\n"
            tick += 1
        }
        let yStep = ySpan > 10 ? 5.0 : (ySpan > 4 ? 1.0 : 0.5)
        var yTick = yLow
        while yTick <= yHigh + 1e-9 {
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(y(yTick)))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y(yTick)))\" stroke=\"#ddd\"/>\n"
            svg += "<text x=\"\(f(left - 8))\" y=\"\(f(y(yTick) + 4))\" text-anchor=\"end\">\(yStep < 1 ? f(yTick) : String(Int(yTick)))</text>\n"
            yTick += yStep
        }
        svg += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 15))\" text-anchor=\"middle\">num_units (log₂ scale)</text>\n"
        svg += "<text transform=\"translate(18 \(f(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">test accuracy (%)</text>\n"
        let points = zip(logs, accuracies).map { "\(f(x($0))),\(f(y($1)))" }.joined(separator: " ")
        svg += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n"
        for (l, a) in zip(logs, accuracies) {
            svg += "<circle cx=\"\(f(x(l)))\" cy=\"\(f(y(a)))\" r=\"4\" fill=\"#1f77b4\"/>\n"
            svg += "<text x=\"\(f(x(l)))\" y=\"\(f(y(a) - 9))\" text-anchor=\"middle\" font-size=\"10\">\(String(format: "%.2f", a))</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }
}
