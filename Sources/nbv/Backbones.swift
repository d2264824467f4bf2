import Environment
import Wire

/// Gives the environment the backbones it cannot build itself: `backbone.type = mapanything` needs the
/// Wire layer's ZeroMQ client (`MapAnythingReconstructor`, docs/MAPANYTHING.md). Called once at startup.
func registerBackbones() {
    NBVEnvironment.remoteBackboneFactory = { endpoint, timeout in
        try MapAnythingReconstructor(endpoint: endpoint, timeout: timeout)
    }
}
