import Geometry
import XCTest
@testable import Metrics
import Support

final class MetricsKDTreeTests: XCTestCase {
    /// Every query's distance equals the brute-force scan's, and the returned index attains it.
    func assertMatchesBruteForce(_ cloud: PointCloud, queries: PointCloud, leafSize: Int = NearestNeighborIndex.defaultLeafSize,
                                 file: StaticString = #filePath, line: UInt = #line) {
        let index = NearestNeighborIndex(cloud, leafSize: leafSize)
        XCTAssertEqual(index.count, cloud.count, file: file, line: line)
        let batch = index.nearestSquaredDistances(of: queries)
        let serial = index.nearestSquaredDistances(of: queries, parallel: false)
        let neighbors = index.nearestNeighbors(of: queries)
        for i in 0..<queries.count {
            let expected = MetricsFixtures.bruteNearest(queries[i], in: cloud).squaredDistance
            let single = index.nearest(to: queries[i])
            XCTAssertEqual(single.squaredDistance, expected, "query \(i) of \(queries.count), cloud \(cloud.count)", file: file, line: line)
            XCTAssertEqual(batch[i], expected, "batch query \(i)", file: file, line: line)
            XCTAssertEqual(serial[i], expected, "serial query \(i)", file: file, line: line)
            XCTAssertEqual(neighbors.squaredDistances[i], expected, file: file, line: line)
            if cloud.isEmpty {
                XCTAssertEqual(single.index, -1, file: file, line: line)
                XCTAssertEqual(neighbors.indices[i], -1, file: file, line: line)
            } else {
                let p = cloud[single.index], q = queries[i]
                let d = (q.x - p.x) * (q.x - p.x) + (q.y - p.y) * (q.y - p.y) + (q.z - p.z) * (q.z - p.z)
                XCTAssertEqual(d, expected, "returned index does not attain the distance", file: file, line: line)
                let pb = cloud[neighbors.indices[i]]
                let db = (q.x - pb.x) * (q.x - pb.x) + (q.y - pb.y) * (q.y - pb.y) + (q.z - pb.z) * (q.z - pb.z)
                XCTAssertEqual(db, expected, "batch index does not attain the distance", file: file, line: line)
            }
        }
    }

    /// Queries in another tree's order take the bottom-up path (each starts from the previous answer).
    func testTreeOrderQueriesMatchBruteForce() {
        var rng = SeededGenerator(seed: 16)
        let planar = PointCloud((0..<3000).map { _ in Vec3f(Float(rng.nextUnit()), Float(rng.nextUnit()), 0) })
        let identical = PointCloud([Vec3f](repeating: Vec3f(0.1, 0.2, 0.3), count: 500))
        let cases: [(PointCloud, PointCloud)] = [
            (MetricsFixtures.sphere(4000, seed: 17, noise: 0), MetricsFixtures.sphere(6000, seed: 18, noise: 0.01)),
            (MetricsFixtures.cube(3000, seed: 19), MetricsFixtures.cube(2500, seed: 20, scale: 2)),
            (planar, MetricsFixtures.cube(3000, seed: 21)),
            (identical, MetricsFixtures.cube(100, seed: 22)),
            (MetricsFixtures.cube(100, seed: 23), identical),
            (MetricsFixtures.cube(50, seed: 24), PointCloud()),
            (PointCloud(), MetricsFixtures.cube(50, seed: 25)),
        ]
        for (k, (cloud, queries)) in cases.enumerated() {
            let index = NearestNeighborIndex(cloud), queryIndex = NearestNeighborIndex(queries)
            for parallel in [false, true] {
                let distances = index.nearestSquaredDistances(ofPointsOf: queryIndex, parallel: parallel)
                XCTAssertEqual(distances.count, queries.count)
                for i in 0..<queries.count {
                    XCTAssertEqual(distances[i], MetricsFixtures.bruteNearest(queries[i], in: cloud).squaredDistance, "case \(k) query \(i)")
                }
            }
        }
    }

    func testRandomCloudsOfSeveralSizes() {
        for (k, n) in [1, 2, 7, 10, 11, 33, 100, 1000, 5000].enumerated() {
            assertMatchesBruteForce(MetricsFixtures.cube(n, seed: UInt64(k)), queries: MetricsFixtures.cube(300, seed: 100 + UInt64(k), scale: 1.2))
        }
    }

    func testLargeBatchUsesEveryChunk() {
        // Enough queries for the parallel path (several chunks).
        assertMatchesBruteForce(MetricsFixtures.sphere(2000, seed: 1), queries: MetricsFixtures.sphere(6000, seed: 2, noise: 0.05))
    }

    func testLeafSizes() {
        for leaf in [1, 2, 3, 8, 16, 64] {
            assertMatchesBruteForce(MetricsFixtures.cube(500, seed: 9), queries: MetricsFixtures.cube(200, seed: 10), leafSize: leaf)
        }
    }

    func testEmptyIndexAnswersInfinity() {
        let index = NearestNeighborIndex(PointCloud())
        XCTAssertTrue(index.isEmpty)
        let r = index.nearest(to: Vec3f(1, 2, 3))
        XCTAssertEqual(r.index, -1)
        XCTAssertEqual(r.squaredDistance, .infinity)
        XCTAssertNil(index.nearest(to: .zero, within: 100))
        XCTAssertEqual(index.nearestSquaredDistances(of: MetricsFixtures.cube(5000, seed: 3)), [Float](repeating: .infinity, count: 5000))
        XCTAssertEqual(index.nearestSquaredDistances(of: PointCloud()), [])
        assertMatchesBruteForce(PointCloud(), queries: MetricsFixtures.cube(10, seed: 4))
    }

    func testSinglePoint() {
        let cloud = PointCloud([Vec3f(0.5, -0.25, 2)])
        assertMatchesBruteForce(cloud, queries: MetricsFixtures.cube(50, seed: 5))
        XCTAssertEqual(NearestNeighborIndex(cloud).nearest(to: Vec3f(0.5, -0.25, 2)).squaredDistance, 0)
    }

    func testDuplicatesAndIdenticalPoints() {
        // Every point repeated 5 times.
        var duplicated = PointCloud()
        let base = MetricsFixtures.cube(200, seed: 6)
        for _ in 0..<5 { duplicated.append(contentsOf: base) }
        assertMatchesBruteForce(duplicated, queries: MetricsFixtures.cube(200, seed: 7))
        assertMatchesBruteForce(duplicated, queries: base)  // distance 0 everywhere
        // All points identical.
        let identical = PointCloud([Vec3f](repeating: Vec3f(0.1, 0.2, 0.3), count: 3000))
        assertMatchesBruteForce(identical, queries: MetricsFixtures.cube(100, seed: 8))
    }

    func testDegenerateClouds() {
        var rng = SeededGenerator(seed: 11)
        // Planar (z = 0), on a line, and on a coarse integer grid (many ties).
        let planar = PointCloud((0..<2000).map { _ in Vec3f(Float(rng.nextUnit()), Float(rng.nextUnit()), 0) })
        let line = PointCloud((0..<1000).map { _ in Vec3f(Float(rng.nextUnit()), 0, 0) })
        let grid = PointCloud((0..<1500).map { _ in Vec3f(Float(Int(rng.nextUnit() * 5)), Float(Int(rng.nextUnit() * 5)), Float(Int(rng.nextUnit() * 5))) })
        let queries = MetricsFixtures.cube(300, seed: 12)
        assertMatchesBruteForce(planar, queries: queries)
        assertMatchesBruteForce(line, queries: queries)
        assertMatchesBruteForce(grid, queries: queries)
        assertMatchesBruteForce(grid, queries: grid)
    }

    func testUpperBoundPrunes() {
        let cloud = MetricsFixtures.cube(1000, seed: 13)
        let index = NearestNeighborIndex(cloud)
        for i in 0..<200 {
            let q = MetricsFixtures.cube(200, seed: 14)[i]
            let exact = MetricsFixtures.bruteNearest(q, in: cloud)
            // A bound above the answer finds it; a bound at or below it finds nothing.
            let found = index.nearest(to: q, within: exact.squaredDistance * 1.5 + 1e-12)
            XCTAssertEqual(found?.squaredDistance, exact.squaredDistance)
            XCTAssertNil(index.nearest(to: q, within: exact.squaredDistance))
            XCTAssertNil(index.nearest(to: q, within: 0))
        }
    }

    func testTreeShapeAndPermutation() {
        for n in [0, 1, 10, 11, 1000, 4097] {
            let index = NearestNeighborIndex(MetricsFixtures.cube(n, seed: 15))
            XCTAssertEqual(index.nodes.count, n == 0 ? 0 : NearestNeighborIndex.nodeCount(n, leafSize: index.leafSize))
            XCTAssertEqual(index.treeOrder.map(Int.init).sorted(), Array(0..<n), "tree order must be a permutation")
        }
    }

    /// The level-by-level node count equals the recursive definition of the median-split tree's shape.
    func testNodeCountMatchesTheRecursiveShape() {
        func recursive(_ n: Int, _ leaf: Int) -> Int { n <= leaf ? 1 : 1 + recursive(n / 2, leaf) + recursive(n - n / 2, leaf) }
        for leaf in [1, 2, 3, 10, 17] {
            for n in 0...2500 { XCTAssertEqual(NearestNeighborIndex.nodeCount(n, leafSize: leaf), recursive(n, leaf), "n \(n) leaf \(leaf)") }
        }
    }

    func testLeafLanesHoldEveryBucketFourAtATimePaddedWithInfinity() {
        for (size, leafSize) in [(1, 10), (7, 10), (700, 10), (1000, 6), (4096, 8)] {
            let index = NearestNeighborIndex(MetricsFixtures.sphere(size, seed: UInt64(size), noise: 0.01), leafSize: leafSize, parallel: false)
            let lanes = LeafLanes(index)
            var chunks = 0
            for (k, node) in index.nodes.enumerated() where node.end >= 0 {
                let first = Int(lanes.firstChunk[k])
                XCTAssertEqual(first, chunks, "leaf \(k) of \(size) points: chunks follow the leaves in node order")
                for s in Int(node.first)..<(Int(node.first) + 4 * ((Int(node.end) - Int(node.first) + 3) / 4)) {
                    let c = first + (s - Int(node.first)) / 4, lane = (s - Int(node.first)) % 4
                    for axis in 0..<3 {
                        let value = lanes.lanes[3 * c + axis][lane]
                        if s < Int(node.end) {
                            XCTAssertEqual(value, index.treePoints[3 * s + axis], "\(size) points, slot \(s), axis \(axis)")
                        } else {
                            XCTAssertEqual(value, .infinity, "\(size) points, padding lane \(lane) of leaf \(k)")
                        }
                    }
                }
                chunks += (Int(node.end) - Int(node.first) + 3) / 4
            }
            XCTAssertEqual(lanes.lanes.count, 3 * chunks)
        }
    }
}
