import InqomClient

/// The Inqom document types of step 4, and where each one goes.
public enum DocumentType: String, Sendable, CaseIterable, Codable {
    case administratif, factureVente = "facture_vente", factureAchat = "facture_achat"
    case noteDeFrais = "note_de_frais", autre

    /// A value outside the five says which ones exist.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let type = DocumentType(rawValue: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "must be one of " + Self.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self = type
    }

    public var label: String {
        switch self {
        case .administratif: "Administratif"
        case .factureVente: "Facture de vente"
        case .factureAchat: "Facture d'achat"
        case .noteDeFrais: "Note de frais"
        case .autre: "Autre"
        }
    }

    /// nil: not the Documents endpoint but the expense-bills one.
    public var typeScan: TypeScan? {
        switch self {
        case .factureAchat: .supplier
        case .factureVente: .client
        case .administratif, .autre: .others
        case .noteDeFrais: nil
        }
    }
}
