import Reconstruction

extension BackboneKind {
    /// The backbone this definition section names: the embedded `geometric` one, or a client of the
    /// MapAnything worker at `backbone.endpoint` (which must answer its handshake within
    /// `backbone.timeout` seconds). Errors are `EnvironmentError`s naming the definition key at fault.
    public func makeReconstructor() throws -> Reconstructor {
        try reportingBackboneErrors {
            switch self {
            case .geometric(let options):
                return try GeometricReconstructor(options: options)
            case .mapAnything(let endpoint, let timeout):
                return try MapAnythingReconstructor(endpoint: endpoint, timeout: timeout)
            }
        }
    }
}

/// Runs a call into the backbone; a `ReconstructionError` becomes the `EnvironmentError` that the
/// environment's callers (and the server's `environment_error` replies) expect, naming the definition key
/// at fault (or `backbone`).
func reportingBackboneErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as ReconstructionError {
        throw EnvironmentError(field: error.field ?? "backbone", error.message)
    }
}
