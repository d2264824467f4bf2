/// The value of rank k (0-based) of `values`: what `values.sorted()[k]` holds, in expected O(n) instead of
/// a sort (quickselect: Hoare partitions around the middle element's value; `values` is reordered).
/// Values must be comparable with each other (no NaN); k must be a valid index.
public func selectRank(_ k: Int, of values: inout [Float]) -> Float {
    precondition(values.indices.contains(k), "selectRank: rank \(k) is outside 0..<\(values.count)")
    return values.withUnsafeMutableBufferPointer { v -> Float in
        var lo = 0, hi = v.count - 1
        while lo < hi {
            let pivot = v[lo + (hi - lo) / 2]
            var i = lo, j = hi
            // After the loop: v[lo...j] <= pivot <= v[i...hi], and every slot between j and i equals pivot.
            while i <= j {
                while v[i] < pivot { i += 1 }
                while pivot < v[j] { j -= 1 }
                if i <= j { v.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { return v[k] }
        }
        return v[k]
    }
}
