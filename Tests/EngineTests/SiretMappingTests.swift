import InqomClient
import Testing

@testable import Engine

/// Step 3's matching, without Inqom or storage.
struct SiretMappingTests {
    private static func folder(_ id: Int64, _ siren: String, _ nic: String) -> AccountingFolder {
        AccountingFolder(id: id, name: "F\(id)", siren: siren, nic: nic, companyID: nil, status: "Active")
    }

    private static let folders = [
        folder(11, "732829320", "74"), folder(12, "552100554", "00013"),
        folder(13, "443061841", "00047"), folder(14, "443061841", "00047"),
    ]

    @Test func eachSelectedDossierIsMatchedOrSaysWhyNot() {
        let dossiers = [
            Dossier(id: "a", name: "Boulangerie", attributes: ["SIRET": "732 829 320 00074"]),
            Dossier(id: "b", name: "Hôtel", attributes: ["SIRET": "552.100.554.00013"]),
            Dossier(id: "c", name: "Sans", attributes: ["Ville": "Nantes"]),
            Dossier(id: "d", name: "Blanc", attributes: ["SIRET": "  "]),
            Dossier(id: "e", name: "Faux", attributes: ["SIRET": "73282932000075"]),
            Dossier(id: "f", name: "Ailleurs", attributes: ["SIRET": "35600000000048"]),
            Dossier(id: "g", name: "Double", attributes: ["SIRET": "44306184100047"]),
            Dossier(id: "h", name: "Boulangerie bis", attributes: ["SIRET": "73282932000074"]),
        ]
        let result = SiretMapping.match(dossiers, by: "SIRET", to: Self.folders)
        #expect(result.matched.map(\.dossierId) == ["a", "b", "h"])
        #expect(result.matched.first == MatchedDossier(
            dossierId: "a", name: "Boulangerie", siret: "73282932000074", inqomFolderId: 11, inqomFolderName: "F11"))
        #expect(result.unmatched.map(\.reason) == [.missingAttribute, .missingAttribute, .invalidSiret, .notFoundInInqom, .ambiguousInInqom])
        #expect(result.unmatched.map(\.dossierId) == ["c", "d", "e", "f", "g"])
        #expect(result.unmatched[2].value == "73282932000075")
        #expect(result.sharedSirets == [SharedSiret(siret: "73282932000074", dossierIds: ["a", "h"])])
    }
}
