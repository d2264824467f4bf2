import XCTest

final class ReconstructionPlaceholderTests: XCTestCase {}
