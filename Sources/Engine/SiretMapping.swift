import Foundation
import InqomClient

/// Step 3: the selected dossiers matched to Inqom's accounting folders by
/// SIRET (`protocol.md` §4). Pure: the engine gives it the dossiers and a
/// fresh folder list.
enum SiretMapping {
    static func match(_ dossiers: [Dossier], by siretAttribute: String, to folders: [AccountingFolder]) -> MappingResult {
        let bySiret = Dictionary(grouping: folders.compactMap { folder in folder.siret.map { ($0, folder) } }, by: \.0)
        var matched: [MatchedDossier] = []
        var unmatched: [UnmatchedDossier] = []
        for dossier in dossiers {
            let (id, name) = (dossier.id, dossier.name)
            guard let value = dossier.attributes[siretAttribute], !value.trimmingCharacters(in: .whitespaces).isEmpty else {
                unmatched.append(.init(dossierId: id, name: name, reason: .missingAttribute, value: nil))
                continue
            }
            guard let siret = Siret(value) else {
                unmatched.append(.init(dossierId: id, name: name, reason: .invalidSiret, value: value))
                continue
            }
            let candidates = bySiret[siret.digits] ?? []
            guard candidates.count == 1, let folder = candidates.first?.1 else {
                unmatched.append(.init(dossierId: id, name: name, reason: candidates.isEmpty ? .notFoundInInqom : .ambiguousInInqom, value: value))
                continue
            }
            matched.append(
                .init(dossierId: id, name: name, siret: siret.digits, inqomFolderId: folder.id, inqomFolderName: folder.name))
        }
        let shared = Dictionary(grouping: matched, by: \.siret).filter { $0.value.count > 1 }
            .map { SharedSiret(siret: $0.key, dossierIds: $0.value.map(\.dossierId)) }.sorted { $0.siret < $1.siret }
        return MappingResult(matched: matched, unmatched: unmatched, sharedSirets: shared)
    }
}

/// Why a selected dossier has no Inqom folder.
public enum UnmatchedReason: String, Codable, Sendable {
    case missingAttribute = "missing_attribute"
    case invalidSiret = "invalid_siret"
    case notFoundInInqom = "not_found_in_inqom"
    case ambiguousInInqom = "ambiguous_in_inqom"
}

public struct MatchedDossier: Codable, Sendable, Equatable {
    public let dossierId: String
    public let name: String
    public let siret: String
    public let inqomFolderId: Int64
    public let inqomFolderName: String
}

public struct UnmatchedDossier: Codable, Sendable, Equatable {
    public let dossierId: String
    public let name: String
    public let reason: UnmatchedReason
    public let value: String?
}

/// Several MCF dossiers mapped to one Inqom folder by the same SIRET:
/// allowed, shown so that an administrator sees it.
public struct SharedSiret: Codable, Sendable, Equatable {
    public let siret: String
    public let dossierIds: [String]
}

public struct MappingResult: Codable, Sendable {
    public let matched: [MatchedDossier]
    public let unmatched: [UnmatchedDossier]
    public let sharedSirets: [SharedSiret]
}

public struct SavedMapping: Codable, Sendable {
    public let siretAttribute: String?
    public let total: Int
    public let page: Int
    public let pageSize: Int
    public let items: [MatchedDossier]
}
