/// sRGB transfer functions (IEC 61966-2-1). Shading happens in linear RGB; images store sRGB bytes.
///
///     encode(c) = 12.92 c                      for c <= 0.0031308
///                 1.055 c^(1/2.4) - 0.055      otherwise
///     decode(s) = s / 12.92                    for s <= 0.04045
///                 ((s + 0.055) / 1.055)^2.4    otherwise
import Foundation
import Support

public enum SRGB {
    /// Linear value in [0, 1] -> sRGB value in [0, 1].
    public static func encode(_ c: Double) -> Double {
        let x = min(max(c, 0), 1)
        return x <= 0.0031308 ? 12.92 * x : 1.055 * pow(x, 1 / 2.4) - 0.055
    }

    /// sRGB value in [0, 1] -> linear value in [0, 1].
    public static func decode(_ s: Double) -> Double {
        let x = min(max(s, 0), 1)
        return x <= 0.04045 ? x / 12.92 : pow((x + 0.055) / 1.055, 2.4)
    }

    /// Linear value -> sRGB byte, through a table of `encodeTableSize` steps (the step, 1/4095, is far
    /// below one byte's worth at the dark end of the curve where sRGB is steepest: 12.92/4095 < 1/255).
    @inline(__always) static func encodeByte(_ c: Float, table: UnsafePointer<UInt8>) -> UInt8 {
        let i = Int(min(max(c, 0), 1) * Float(encodeTableSize - 1) + 0.5)
        return table[i]
    }

    static let encodeTableSize = 4096

    /// `encodeTable[i]` = the sRGB byte of linear value i / (encodeTableSize - 1).
    static let encodeTable = PinnedArray<UInt8>((0..<encodeTableSize).map { i in
        UInt8((encode(Double(i) / Double(encodeTableSize - 1)) * 255).rounded())
    })

    /// `decodeTable[b]` = the linear value of sRGB byte b.
    static let decodeTable = PinnedArray<Float>((0..<256).map { Float(decode(Double($0) / 255)) })
}
