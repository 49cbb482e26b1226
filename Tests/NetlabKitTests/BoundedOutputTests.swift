import Foundation
import Testing
@testable import NetlabKit

@Suite struct BoundedOutputTests {
    func feed(_ o: inout BoundedOutput, _ text: String, chunk: Int) {
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let end = min(bytes.count, i + chunk)
            bytes[i..<end].withUnsafeBytes { o.append($0) }
            i = end
        }
    }

    @Test func shortOutputIsKeptWhole() {
        var o = BoundedOutput(headLimit: 8, tailLimit: 4)
        feed(&o, "hello", chunk: 2)
        #expect(o.data == Data("hello".utf8))
        #expect(o.cutBytes == 0 && o.totalBytes == 5)
    }

    @Test(arguments: [1, 3, 7, 100])
    func theHeadAndTailAreKeptAndTheCutIsCountedWhateverTheChunks(chunk: Int) {
        var o = BoundedOutput(headLimit: 4, tailLimit: 3)
        let text = "HEAD" + String(repeating: "-", count: 50) + "END"
        feed(&o, text, chunk: chunk)
        #expect(o.totalBytes == 57)
        #expect(o.cutBytes == 50)
        #expect(String(decoding: o.data, as: UTF8.self) == "HEAD\n[… 50 bytes cut …]\nEND")
    }

    @Test func exactlyHeadPlusTailIsNotCut() {
        var o = BoundedOutput(headLimit: 4, tailLimit: 3)
        feed(&o, "abcdefg", chunk: 1)
        #expect(o.cutBytes == 0)
        #expect(o.data == Data("abcdefg".utf8))
    }

    @Test func largeCountsAreGrouped() {
        #expect(BoundedOutput.grouped(399_999_000) == "399,999,000")
        #expect(BoundedOutput.grouped(999) == "999")
        #expect(BoundedOutput.grouped(1000) == "1,000")
        #expect(BoundedOutput.grouped(0) == "0")
    }

    /// A plugin's huge stdout is named with what was cut, not as if it were all there.
    @Test func anExcerptOfCutOutputSaysSo() {
        let e = excerpt(Data("not json".utf8), cut: 5_000_000)
        #expect(e == "\"not json\" … (and 5,000,000 bytes from its middle that netlab did not keep)")
    }
}
