import Foundation

/// Text compared the way an accountant expects: case and accents ignored
/// (`societe` finds `Société`, `HOTEL` finds `Hôtel`), ligatures spelled out.
public enum TextFolding {
    public static func fold(_ text: String) -> String {
        let folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
        guard folded.unicodeScalars.contains(where: { ligatures[$0] != nil }) else { return folded }
        var result = ""
        for scalar in folded.unicodeScalars {
            if let spelled = ligatures[scalar] { result += spelled } else { result.unicodeScalars.append(scalar) }
        }
        return result
    }

    private static let ligatures: [Unicode.Scalar: String] = ["œ": "oe", "æ": "ae", "ß": "ss", "ﬁ": "fi", "ﬂ": "fl"]
}
