import Engine
import Testing

struct PathTemplateTests {
    @Test(arguments: [
        ("", PathTemplate.Problem.empty), ("  ", .empty), ("///", .absolute), ("/Achats", .absolute),
        ("Achats/../Ventes", .dotSegment), ("./Achats", .dotSegment), ("Achats/{annee}", .unknownVariable),
        ("Achats/{mois", .unknownVariable), ("Achats/mois}", .unknownVariable),
    ])
    func refusesWhatTheSpecForbids(path: String, problem: PathTemplate.Problem) {
        #expect(throws: problem) { try PathTemplate(path) }
    }

    @Test func matchesTheDepositFolderForTheGivenMonth() throws {
        let template = try PathTemplate("Comptabilité/{millésime}/Achats/{mois}")
        #expect(template.matches(folder: "Comptabilité/2026/Achats/11", year: 2026, month: 11))
        #expect(!template.matches(folder: "Comptabilité/2026/Achats/10", year: 2026, month: 11))
        #expect(!template.matches(folder: "Comptabilité/2025/Achats/11", year: 2026, month: 11))
        #expect(!template.matches(folder: "Comptabilité/2026/Achats/11/Sous-dossier", year: 2026, month: 11))
        #expect(!template.matches(folder: "Comptabilité/2026/Achats", year: 2026, month: 11))
    }

    @Test func comparesAfterNFCIgnoringCaseAndStraySlashes() throws {
        let template = try PathTemplate("Comptabilité/{millesime}/ACHATS")
        #expect(template.matches(folder: "/comptabilite\u{0301}//2026/achats/", year: 2026, month: 1))
        #expect(template.matches(folder: "COMPTABILITÉ/2026/Achats", year: 2026, month: 1))
        #expect(!template.matches(folder: "Comptabilite/2026/Achats", year: 2026, month: 1))  // é is not e
    }

    @Test func periodAnyMatchesAnyYearAndMonth() throws {
        let template = try PathTemplate("Factures {millésime}-{mois}")
        #expect(template.matches(folder: "factures 2019-03", year: nil, month: nil))
        #expect(!template.matches(folder: "factures 2019-13", year: nil, month: nil))
        #expect(!template.matches(folder: "factures 19-03", year: nil, month: nil))
        #expect(template.matches(folder: "factures 2026-11", year: 2026, month: 11))
    }

    @Test func expandsWithAFourDigitYearAndATwoDigitMonth() throws {
        let template = try PathTemplate("Archives/{millésime}/{mois}")
        #expect(template.expanded(year: 2026, month: 3) == "Archives/2026/03")
        #expect(template.expanded(year: 987, month: 11) == "Archives/0987/11")
    }

    @Test func bothSpellingsAreTheSameTemplate() throws {
        #expect(try PathTemplate("A/{millesime}/{mois}").canonical == PathTemplate("a//{millésime}/{mois}/").canonical)
        #expect(try PathTemplate("A/{Mois}").canonical == "a/{mois}")
    }

    @Test func expandsKeepingTheCaseItWasWrittenIn() throws {
        let template = try PathTemplate("Archives/{millésime}/{MOIS}/Envoyés")
        #expect(template.expanded(year: 2027, month: 1) == "Archives/2027/01/Envoyés")
        #expect(try PathTemplate("A//B/{millesime}").expanded(year: 2026, month: 12) == "A/B/2026")
    }
}
