import Foundation

/// Draws a digit and class probabilities for a 256-color ANSI terminal: two pixel rows per text
/// line with Unicode half blocks (foreground = upper pixel, background = lower pixel), and one
/// bar per class.
enum DigitRenderer {
    static let reset = "\u{1B}[0m"

    /// The 256-color palette index for a pixel: 16 (black) for 0, else the gray ramp 232...255,
    /// with 231 (white) for the brightest.
    static func paletteIndex(_ pixel: UInt8) -> Int {
        let level = Int(pixel) * 25 / 256   // 0...24
        return level == 0 ? 16 : (level == 24 ? 231 : 231 + level)
    }

    /// The digit as `(rows + 1) / 2` lines of `columns` cells. Only the first `rowsShown` rows are
    /// drawn; the rest stay blank, so the digit appears as its rows arrive.
    /// `pixels`: [rows × columns], row-major.
    static func digitLines(pixels: [UInt8], rows: Int, columns: Int, rowsShown: Int) -> [String] {
        stride(from: 0, to: rows, by: 2).map { top in
            var line = ""
            for column in 0..<columns {
                let upper = top < rowsShown ? pixels[top * columns + column] : nil
                let lower = top + 1 < min(rowsShown, rows) ? pixels[(top + 1) * columns + column] : nil
                switch (upper, lower) {
                case let (upper?, lower?) where upper == lower:
                    line += "\u{1B}[38;5;\(paletteIndex(upper))m█"
                case let (upper?, lower?):
                    line += "\u{1B}[38;5;\(paletteIndex(upper));48;5;\(paletteIndex(lower))m▀\u{1B}[49m"
                case let (upper?, nil):
                    line += "\u{1B}[38;5;\(paletteIndex(upper))m▀"
                case (nil, _):   // rows arrive top down: a missing upper row means both are missing
                    line += "\u{1B}[38;5;236m·"
                }
            }
            return line + reset
        }
    }

    /// One line per class: label, a bar of `width` cells (eighth blocks for the fraction), the
    /// probability. The most probable class is bold green. Nil `probabilities`: empty bars.
    static func barLines(probabilities: [Float]?, labels: [String], width: Int = 24) -> [String] {
        let best = probabilities.flatMap { values in values.indices.max { values[$0] < values[$1] } }
        let labelWidth = labels.map(\.count).max() ?? 1
        let eighths = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        return labels.indices.map { index in
            let probability = probabilities.map { Double($0[index]) } ?? 0
            let filled = max(0, min(width * 8, Int((probability * Double(width * 8)).rounded())))
            var bar = String(repeating: "█", count: filled / 8) + eighths[filled % 8]
            bar += String(repeating: " ", count: width - bar.count)
            let label = String(repeating: " ", count: labelWidth - labels[index].count) + labels[index]
            let value = probabilities == nil ? "     " : String(format: "%5.3f", probability)
            let style = index == best ? "\u{1B}[1;32m" : "\u{1B}[36m"
            return "\(style)\(label) \u{1B}[48;5;236m\(bar)\u{1B}[49m \(value)\(reset)"
        }
    }

    /// A whole frame: a title line, then the digit with the bars beside it (starting on its
    /// second line).
    static func frame(title: String, pixels: [UInt8], rowsShown: Int, probabilities: [Float]?,
                      labels: [String]) -> [String] {
        let digit = digitLines(pixels: pixels, rows: Digits.rows, columns: Digits.columns, rowsShown: rowsShown)
        let bars = barLines(probabilities: probabilities, labels: labels)
        let barOffset = 2
        let height = max(digit.count, bars.count + barOffset)
        let blankDigitLine = String(repeating: " ", count: Digits.columns)
        var lines = [title]
        for index in 0..<height {
            let left = index < digit.count ? digit[index] : blankDigitLine
            let barIndex = index - barOffset
            lines.append(bars.indices.contains(barIndex) ? "\(left)   \(bars[barIndex])" : left)
        }
        return lines
    }
}

/// Redraws a block of lines in place: the cursor moves back up over the previous drawing.
final class TerminalCanvas {
    private var drawnLines = 0

    /// Draws `lines` over the previous frame (the frame must not be taller than the terminal).
    func draw(_ lines: [String]) {
        var output = drawnLines > 0 ? "\u{1B}[\(drawnLines)F" : ""
        for line in lines { output += "\u{1B}[2K" + line + "\n" }
        FileHandle.standardOutput.write(Data(output.utf8))
        drawnLines = lines.count
    }
}
