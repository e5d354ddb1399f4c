import Engine
import Testing

struct SiretTests {
    @Test(arguments: [
        "73282932000074",  // Inqom's example folder: 732829320 + 00074
        "55210055400013",
        "44306184100047",
        "35600000000048",  // La Poste's head office, valid by Luhn
        "35600000009075",  // a La Poste establishment: invalid by Luhn, digits sum to a multiple of 5
    ])
    func acceptsValidSirets(_ text: String) {
        #expect(Siret(text)?.digits == text)
    }

    @Test(arguments: [
        "73282932000075",  // one digit off
        "35600000009076",  // La Poste, neither rule
        "12345678901234",  // sum a multiple of 5 but not La Poste: Luhn decides
        "7328293200007",  // 13 digits
        "732829320000744",  // 15 digits
        "73282932O00074",  // a letter O
        "", "   ", "٧٣٢٨٢٩٣٢٠٠٠٠٧٤",  // Arabic-Indic digits are not ASCII digits
    ])
    func refusesInvalidSirets(_ text: String) {
        #expect(Siret(text) == nil)
    }

    @Test(arguments: ["732 829 320 00074", "732.829.320.00074", "732-829-320-00074", "732\u{00A0}829\u{00A0}320\u{00A0}00074", " 73282932000074 "])
    func ignoresSeparators(_ text: String) {
        #expect(Siret(text)?.digits == "73282932000074")
    }
}

struct TextFoldingTests {
    @Test func foldsCaseAccentsAndLigatures() {
        #expect(TextFolding.fold("Société Générale") == "societe generale")
        #expect(TextFolding.fold("HÔTEL") == "hotel")
        #expect(TextFolding.fold("Œuvre ÆTHER Straße") == "oeuvre aether strasse")
        // Decomposed input (NFD) folds the same as composed.
        #expect(TextFolding.fold("Cafe\u{0301}") == TextFolding.fold("Café"))
    }
}
