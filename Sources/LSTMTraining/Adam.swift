/// Adam (Kingma & Ba) exactly as PyTorch's `torch.optim.Adam` updates, without weight decay:
///     m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
///     θ ← θ − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
public struct AdamOptimizer: Sendable {
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    /// Number of updates done so far (t).
    public private(set) var step: Int
    /// First and second moment estimates, one per parameter.
    public private(set) var firstMoment: [Float]
    public private(set) var secondMoment: [Float]

    public init(parameterCount: Int, learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        step = 0
        firstMoment = [Float](repeating: 0, count: parameterCount)
        secondMoment = [Float](repeating: 0, count: parameterCount)
    }

    /// Restores a saved optimiser (e.g. from a checkpoint).
    public init(learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, step: Int, firstMoment: [Float], secondMoment: [Float]) {
        precondition(firstMoment.count == secondMoment.count)
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.step = step
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
    }

    /// One update of `parameters` with `gradients` (same count).
    public mutating func update(parameters: inout [Float], gradients: [Float]) {
        precondition(parameters.count == firstMoment.count && gradients.count == firstMoment.count)
        step += 1
        let correction1 = 1 - Float(Double(beta1).power(step))
        let correction2Root = Float(Double(1 - Float(Double(beta2).power(step))).squareRoot())
        let stepSize = learningRate / correction1
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        parameters.withUnsafeMutableBufferPointer { theta in
            firstMoment.withUnsafeMutableBufferPointer { m in
                secondMoment.withUnsafeMutableBufferPointer { v in
                    gradients.withUnsafeBufferPointer { g in
                        for j in 0..<theta.count {
                            m[j] = b1 * m[j] + (1 - b1) * g[j]
                            v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j]
                            theta[j] -= stepSize * m[j] / (v[j].squareRoot() / correction2Root + eps)
                        }
                    }
                }
            }
        }
    }
}

extension Double {
    fileprivate func power(_ n: Int) -> Double { Foundation.pow(self, Double(n)) }
}

import Foundation
