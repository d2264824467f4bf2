import XCTest

final class LearningPlaceholderTests: XCTestCase {}
