import XCTest

final class EnvironmentPlaceholderTests: XCTestCase {}
