/// A dense Float32 array with reverse-mode automatic differentiation.
///
/// Storage is contiguous and row-major: the element at multi-index (i0, i1, ..., ik) lives at
/// `sum_j i_j * stride_j` with `stride_k = 1` and `stride_j = stride_{j+1} * shape[j+1]`.
///
/// A tensor whose `requiresGrad` is true and that was produced by an operation while gradient
/// recording is on (the default; see `Tensor.noGrad`) remembers its parents and a closure that maps
/// its gradient onto theirs. `backward()` on a scalar sorts that graph topologically and
/// accumulates d(scalar)/d(leaf) into every leaf's `grad`. Leaves keep accumulating across calls
/// until `zeroGrad()`; gradients of intermediate results are released after use.
///
/// Tensors are reference types so that layers and optimisers share their parameters.
public final class Tensor {
    /// The extent of each axis; `[]` is a scalar.
    public let shape: [Int]
    /// The elements in row-major order. Replace them with `assign(_:)`.
    public internal(set) var data: [Float]
    /// d(loss)/d(self), same count as `data`, or nil if no gradient reached this tensor yet.
    public var grad: [Float]?
    /// Whether operations on this tensor record a graph for `backward()`.
    public var requiresGrad: Bool

    var parents: [Tensor] = []
    /// Maps the gradient of this tensor onto its parents' gradients (accumulating).
    var backwardFunction: (([Float]) -> Void)?

    /// A tensor holding `data` with the given `shape` (`data.count` must equal the product of `shape`).
    public init(_ data: [Float], shape: [Int], requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
        precondition(data.count == shape.reduce(1, *),
                     "Tensor: \(data.count) elements do not fill shape \(shape)")
        self.shape = shape
        self.data = data
        self.requiresGrad = requiresGrad
    }

    /// A 1-D tensor.
    public convenience init(_ data: [Float], requiresGrad: Bool = false) {
        self.init(data, shape: [data.count], requiresGrad: requiresGrad)
    }

    /// A 0-D (scalar) tensor.
    public convenience init(scalar: Float, requiresGrad: Bool = false) {
        self.init([scalar], shape: [], requiresGrad: requiresGrad)
    }

    /// A tensor of `shape` filled with `value`.
    public convenience init(shape: [Int], repeating value: Float, requiresGrad: Bool = false) {
        self.init([Float](repeating: value, count: shape.reduce(1, *)), shape: shape, requiresGrad: requiresGrad)
    }

    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: shape, repeating: 0, requiresGrad: requiresGrad)
    }

    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: shape, repeating: 1, requiresGrad: requiresGrad)
    }

    /// Number of elements.
    public var count: Int { data.count }
    /// Number of axes.
    public var rank: Int { shape.count }

    /// The single element of a tensor with one element.
    public var item: Float {
        precondition(count == 1, "Tensor.item: tensor of shape \(shape) has \(count) elements, expected 1")
        return data[0]
    }

    /// Replaces the elements in place (same count); the shape and graph are unchanged.
    public func assign(_ values: [Float]) {
        precondition(values.count == count, "Tensor.assign: \(values.count) values for shape \(shape)")
        data = values
    }

    /// A copy of the values that records no graph (`requiresGrad` false).
    public func detach() -> Tensor { Tensor(data, shape: shape) }

    /// Sets the gradient to nil.
    public func zeroGrad() { grad = nil }

    /// Normalises a possibly negative axis index for this tensor's rank.
    func axisIndex(_ axis: Int, _ operation: String) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "\(operation): axis \(axis) out of range for shape \(shape)")
        return a
    }
}

// MARK: - Gradient recording

/// Whether operations currently record graphs; see `Tensor.noGrad`.
public enum GradientMode {
    @TaskLocal public static var isEnabled: Bool = true
}

extension Tensor {
    /// Runs `body` without recording graphs: results never require gradients (inference, target values).
    public static func noGrad<R>(_ body: () throws -> R) rethrows -> R {
        try GradientMode.$isEnabled.withValue(false) { try body() }
    }

    /// The result of an operation: records `parents` and `backward` if recording is on and any
    /// parent requires a gradient. `backward` receives d(loss)/d(result).
    static func result(_ data: [Float], shape: [Int], parents: [Tensor],
                       backward: @escaping ([Float]) -> Void) -> Tensor {
        let output = Tensor(data, shape: shape)
        if GradientMode.isEnabled && parents.contains(where: { $0.requiresGrad }) {
            output.requiresGrad = true
            output.parents = parents
            output.backwardFunction = backward
        }
        return output
    }

    /// Lets `body` add into this tensor's gradient buffer (zero-filled on first use); no-op when
    /// the tensor does not require a gradient.
    @inline(__always)
    func accumulateGradient(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        guard requiresGrad else { return }
        if grad == nil { grad = [Float](repeating: 0, count: count) }
        grad!.withUnsafeMutableBufferPointer { body($0) }
    }

    /// Adds `gradient` (same count) into this tensor's gradient.
    func accumulateGradient(_ gradient: [Float]) {
        guard requiresGrad else { return }
        if grad == nil { grad = gradient; return }
        accumulateGradient { g in
            gradient.withUnsafeBufferPointer { s in for i in 0..<g.count { g[i] += s[i] } }
        }
    }

    /// Backpropagates from a scalar: accumulates d(self)/d(leaf) into each leaf's `grad`.
    public func backward() {
        precondition(count == 1, "Tensor.backward: needs a scalar, got shape \(shape); pass a gradient")
        backward(gradient: [1])
    }

    /// Backpropagates a given d(loss)/d(self) (same count as self), e.g. a gradient that comes
    /// from outside the graph such as d(Chamfer)/d(action).
    public func backward(gradient: [Float]) {
        precondition(gradient.count == count, "Tensor.backward: gradient has \(gradient.count) values for shape \(shape)")
        guard requiresGrad else { return }
        let order = topologicalOrder()
        accumulateGradient(gradient)
        for node in order.reversed() {
            guard let function = node.backwardFunction, let g = node.grad else { continue }
            function(g)
            node.grad = nil  // intermediate results do not keep gradients
        }
    }

    /// Nodes reachable from self through parents that require gradients, parents before children.
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(node: Tensor, nextParent: Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while !stack.isEmpty {
            let (node, next) = stack[stack.count - 1]
            if next < node.parents.count {
                stack[stack.count - 1].nextParent += 1
                let parent = node.parents[next]
                if parent.requiresGrad && visited.insert(ObjectIdentifier(parent)).inserted {
                    stack.append((parent, 0))
                }
            } else {
                order.append(node)
                stack.removeLast()
            }
        }
        return order
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = data.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", ..." : "")])"
    }
}
