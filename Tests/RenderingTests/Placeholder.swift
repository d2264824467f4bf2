import XCTest

final class RenderingPlaceholderTests: XCTestCase {}
