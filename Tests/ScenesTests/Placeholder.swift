import XCTest

final class ScenesPlaceholderTests: XCTestCase {}
