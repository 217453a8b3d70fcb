/// Splits a fuzzer's input into ZeroMQ-like frames: byte 0 gives the frame count (0…4), then each
/// frame but the last is a length byte and that many bytes; the last frame is whatever remains.
/// Every input maps to some frames, so the fuzzer reaches every frame shape.
public func frames(_ data: UnsafeRawBufferPointer) -> [[UInt8]] {
    guard let first = data.first else { return [] }
    let count = Int(first % 5)
    var frames: [[UInt8]] = []
    var position = 1
    for index in 0..<count {
        if index == count - 1 {
            frames.append(Array(data[min(position, data.count)...]))
        } else {
            let length = position < data.count ? Int(data[position]) : 0
            position += 1
            let end = min(position + length, data.count)
            frames.append(Array(data[min(position, end)..<end]))
            position = end
        }
    }
    return frames
}

/// The fuzzer's input as an array.
public func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Stops the fuzzer with a message: a property that must hold did not.
public func violated(_ message: String) -> Never {
    fatalError("fuzz property violated: \(message)")
}
