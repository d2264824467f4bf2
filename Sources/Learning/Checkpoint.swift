import Foundation
import Support

/// A checkpoint is two files written atomically: `NAME.safetensors` with the parameters (as
/// `model.<name>`) and the optimiser's buffers (as `optimizer.<buffer>.<name>`), and the JSON
/// sidecar `NAME.json` `{"checkpoint_id": ..., "optimizer_step": ..., "state": <caller's value>}`
/// for everything else (config, step, normalisation statistics, curriculum stage, RNG state).
///
/// The tensors are written first and the sidecar last, and both carry the same random id, so a
/// crash between the two writes is detected on load instead of pairing mismatched files.
public enum Checkpoint {
    /// The sidecar path for a checkpoint path: `run/checkpoint.safetensors` -> `run/checkpoint.json`.
    public static func sidecarURL(for url: URL) -> URL { url.deletingPathExtension().appendingPathExtension("json") }

    private struct Sidecar<State: Codable>: Codable {
        let checkpoint_id: String
        let optimizer_step: Int?
        let state: State
    }

    /// Saves `module`'s parameters, `optimizer`'s state (if any) and `state` at `url`
    /// (a `.safetensors` path; the sidecar goes beside it).
    public static func save<State: Codable>(module: Module, optimizer: Optimizer? = nil, state: State, to url: URL) throws {
        let id = UUID().uuidString
        var tensors = module.parameters().map { ("model." + $0.0, $0.1) }
        var metadata = ["checkpoint_id": id, "format": "nbvgym-checkpoint-1"]
        let optimizerState = optimizer?.state()
        if let optimizerState {
            tensors += optimizerState.tensors.keys.sorted().map { ("optimizer." + $0, optimizerState.tensors[$0]!) }
            metadata["optimizer_step"] = String(optimizerState.step)
        }
        try Safetensors.write(tensors, metadata: metadata, to: url)
        let sidecar = try JSON.encode(Sidecar(checkpoint_id: id, optimizer_step: optimizerState?.step, state: state))
        try AtomicFile.write(Data(JSON.serialize(sidecar, pretty: true).utf8), to: sidecarURL(for: url))
    }

    /// Loads a checkpoint into `module` (and `optimizer`) and returns the sidecar state. On any
    /// error (unreadable or corrupt file, mismatched sidecar, missing/unexpected/misshaped
    /// parameter) it throws and leaves the module and optimiser unchanged.
    public static func load<State: Codable>(_ type: State.Type, into module: Module, optimizer: Optimizer? = nil,
                                            from url: URL) throws -> State {
        let contents = try Safetensors.read(url)
        let sidecarPath = sidecarURL(for: url)
        func fail(_ problem: String) -> SafetensorsError { SafetensorsError(file: sidecarPath.path, problem: problem) }
        let sidecarData: Data
        do { sidecarData = try Data(contentsOf: sidecarPath) } catch { throw fail("cannot read sidecar: \(error.localizedDescription)") }
        let sidecar: Sidecar<State>
        do { sidecar = try JSON.decode(Sidecar<State>.self, from: try JSON.parse([UInt8](sidecarData))) } catch {
            throw fail("bad sidecar JSON: \(error)")
        }
        guard sidecar.checkpoint_id == contents.metadata["checkpoint_id"] else {
            throw fail("sidecar id \(sidecar.checkpoint_id) does not match \(url.lastPathComponent) id \(contents.metadata["checkpoint_id"] ?? "none")")
        }
        var model: [String: Tensor] = [:], buffers: [String: Tensor] = [:]
        for (name, tensor) in contents.tensors {
            if name.hasPrefix("model.") { model[String(name.dropFirst(6))] = tensor }
            else if name.hasPrefix("optimizer.") { buffers[String(name.dropFirst(10))] = tensor }
            else { throw SafetensorsError(file: url.path, problem: "unexpected tensor '\(name)' (neither model. nor optimizer.)") }
        }
        let previous = module.stateDictionary()
        do { try module.load(model) } catch { throw SafetensorsError(file: url.path, problem: "\(error)") }
        if let optimizer {
            do {
                guard let step = sidecar.optimizer_step else { throw OptimizerStateError(problem: "checkpoint has no optimiser state") }
                try optimizer.load(OptimizerState(step: step, tensors: buffers))
            } catch {
                try? module.load(previous)
                throw SafetensorsError(file: url.path, problem: "\(error)")
            }
        }
        return sidecar.state
    }
}
