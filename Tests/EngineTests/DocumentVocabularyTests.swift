import Testing

@testable import Engine

struct DocumentVocabularyTests {
    static let failureReasons: [DocumentReason] = [.fileMissing, .dossierNotMapped, .inqomFolderNotFound, .inqomRejected, .inqomUnavailable]

    @Test func eachFailureHasItsOwnWordsForTheDigest() {
        let words = Self.failureReasons.map { $0.explanation(httpStatus: nil, attempts: 1) }
        #expect(Set(words).count == Self.failureReasons.count)
        #expect(DocumentReason.inqomRejected.explanation(httpStatus: 415, attempts: 1).contains("(code 415)"))
        #expect(DocumentReason.inqomUnavailable.explanation(httpStatus: nil, attempts: 6).contains("6 tentatives"))
        #expect(DocumentReason.inqomUnavailable.explanation(httpStatus: nil, attempts: 1).contains("1 tentative."))
    }

    @Test func storedWordsAreTheProtocolsSpellings() {
        #expect(DocumentReason.allCases.allSatisfy { DocumentReason(rawValue: $0.rawValue) == $0 && !$0.rawValue.contains(" ") })
        #expect(DocumentState.failed.sql == "'failed'")
        #expect(QueueCause.mapping.rawValue == "mapping")
    }
}
