import Foundation
import Geometry
import Environment

/// Evaluation protocols (docs/EVALUATION.md, "Protocols"): how many views an episode has, how many of
/// them are initial (random) views, and where the camera may go. A protocol changes only these keys of
/// an environment definition; meshes, images, backbone and metrics stay the definition's.
public enum EvaluationProtocol: String, CaseIterable, Sendable, Codable {
    /// PC-NBV / SCONE: 1 random initial view + 9 chosen views on the definition's camera band.
    case p10
    /// Object on a table: the camera stays at or above `hemisphereMinElevation` degrees, 1 + 9 views.
    case hemisphere
    /// Few views: 1 random initial view + 3 chosen views on the definition's camera band.
    case fewViews = "few-views"
    /// Object on a table with few views: elevation at least `hemisphereMinElevation` degrees, 1 + 3 views.
    case tableFewViews = "table-few-views"
    /// Curriculum grid: 1, 2 or 4 initial views, budget 10, the definition's camera band.
    case grid

    /// Lowest camera elevation (degrees above the horizontal plane through the object centre) of the
    /// table protocols.
    public static let hemisphereMinElevation = 10.0

    /// Initial-view counts, one protocol cell each.
    public var initialViewCounts: [Int] { self == .grid ? [1, 2, 4] : [1] }

    /// Total views of an episode (initial views included).
    public var budget: Int {
        switch self {
        case .p10, .hemisphere, .grid: 10
        case .fewViews, .tableFewViews: 4
        }
    }

    /// Whether the camera is kept above the table (elevation >= `hemisphereMinElevation`).
    public var isOnTable: Bool { self == .hemisphere || self == .tableFewViews }

    /// One line for tables: budget, initial views and camera band.
    public var summary: String {
        let camera = isOnTable ? "elevation >= \(Int(Self.hemisphereMinElevation)) degrees" : "the definition's camera band"
        let initial = initialViewCounts.map(String.init).joined(separator: ", ")
        return "\(rawValue): budget \(budget) views, \(initial) initial, \(camera)"
    }

    /// `definition` with this protocol's budget and camera band (a table protocol raises the lowest
    /// elevation to `hemisphereMinElevation`, keeping a higher one).
    public func apply(to definition: EnvironmentDefinition) -> EnvironmentDefinition {
        var d = definition
        d.budget = budget
        d.initialViews = 1...1
        if isOnTable {
            let s = d.shell
            d.shell = CameraShell(minRadius: s.minRadius, maxRadius: s.maxRadius,
                                  minElevationDegrees: max(s.minElevationDegrees, Self.hemisphereMinElevation),
                                  maxElevationDegrees: max(s.maxElevationDegrees, Self.hemisphereMinElevation))
        }
        return d
    }
}
