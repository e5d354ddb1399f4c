import Foundation
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// One implementation of the seam: every test below runs on each.
struct RuleStoreImplementation: Sendable, CustomStringConvertible {
    let description: String
    let make: @Sendable () async throws -> any RuleStore
}

/// What any `RuleStore` must do, whatever keeps the rules.
struct RuleStoreTests {
    static let implementations = StoreKind.allCases.map { kind in
        RuleStoreImplementation(description: kind.description) {
            SQLRuleStore(storage: try await kind.fresh("rule-store").storage, connector: .default)
        }
    }

    private static func rule(_ id: String, _ path: String, _ type: DocumentType, at minute: Int, archive: String? = nil) -> Rule {
        Rule(
            id: id, depositPath: path, documentType: type, archivePath: archive, period: .current,
            createdAt: "2026-12-04T10:\(minute < 10 ? "0" : "")\(minute):00.000Z")
    }

    @Test(arguments: implementations)
    func rulesAreListedOldestFirstAndAnUpdateKeepsItsPlace(_ implementation: RuleStoreImplementation) async throws {
        let store = try await implementation.make()
        try await store.save(Self.rule("b", "Ventes", .factureVente, at: 2), depositKey: "ventes", replacing: nil)
        try await store.save(Self.rule("a", "Achats/{millésime}", .factureAchat, at: 1), depositKey: "achats/{millesime}", replacing: nil)
        try await store.save(Self.rule("c", "Frais", .noteDeFrais, at: 3), depositKey: "frais", replacing: nil)
        #expect(try await store.rules().map(\.id) == ["a", "b", "c"])
        let updated = Self.rule("b", "Ventes/{mois}", .factureVente, at: 2, archive: "Ventes/Envoyés")
        try await store.save(updated, depositKey: "ventes/{mois}", replacing: "b")
        let rules = try await store.rules()
        #expect(rules.map(\.id) == ["a", "b", "c"])
        #expect(rules[1] == updated)
        #expect(rules[0].depositPath == "Achats/{millésime}")
    }

    @Test(arguments: implementations)
    func oneTypeFromOneDepositFolderIsOneRule(_ implementation: RuleStoreImplementation) async throws {
        let store = try await implementation.make()
        try await store.save(Self.rule("a", "Achats", .factureAchat, at: 1), depositKey: "achats", replacing: nil)
        await #expect(throws: DuplicateRule.self) {
            try await store.save(Self.rule("x", "ACHATS/", .factureAchat, at: 2), depositKey: "achats", replacing: nil)
        }
        // Another type from the same folder is another rule; a rule replacing itself is no clash.
        try await store.save(Self.rule("n", "Achats", .noteDeFrais, at: 3), depositKey: "achats", replacing: nil)
        try await store.save(Self.rule("a", "Achats", .factureAchat, at: 1, archive: "Achats/OK"), depositKey: "achats", replacing: "a")
        await #expect(throws: DuplicateRule.self) {
            try await store.save(Self.rule("n", "Achats", .factureAchat, at: 3), depositKey: "achats", replacing: "n")
        }
        #expect(try await store.rules().map(\.documentType) == [.factureAchat, .noteDeFrais])
        #expect(try await store.delete(id: "n"))
        #expect(try await store.delete(id: "n") == false)
        #expect(try await store.rules().map(\.id) == ["a"])
    }
}
