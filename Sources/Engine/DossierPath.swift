import Foundation

/// Paths inside a dossier's tree, as the engine keeps and compares them.
enum DossierPath {
    /// Single slashes, none leading or trailing, in NFC.
    static func clean(_ path: String) -> String {
        path.precomposedStringWithCanonicalMapping.split(separator: "/").joined(separator: "/")
    }
}
