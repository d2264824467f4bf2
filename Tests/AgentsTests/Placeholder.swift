import XCTest

final class AgentsPlaceholderTests: XCTestCase {}
