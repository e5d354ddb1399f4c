/// Bounds on what a client may store: one dossier with 200,000 attributes,
/// or a name of megabytes, would make every later call that reads it slow
/// and large.
enum TextLimits {
    static let maxBytes = 1_000
    static let maxAttributes = 100
    static let documentIDBytes = 1...256

    static func check(_ text: String, field: String) throws {
        guard text.utf8.count <= maxBytes else {
            throw EngineError.invalidParameter(field: field, message: "must be at most \(maxBytes) bytes")
        }
    }

    /// A path inside a dossier: relative, no segment that climbs out of it
    /// (`.`, `..`) or hides a control character, each within the bound.
    static func checkRelativePath(_ path: String, field: String) throws {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.hasPrefix("/"), !segments.contains(where: { $0 == "." || $0 == ".." }),
            !path.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw EngineError.invalidParameter(
                field: field, message: "must be a path inside the dossier: no leading '/', no '.' or '..' segment, no control character")
        }
        guard segments.allSatisfy({ $0.utf8.count <= maxBytes }) else {
            throw EngineError.invalidParameter(field: field, message: "each segment must be at most \(maxBytes) bytes")
        }
    }

    static func checkDossier(_ dossier: Dossier, field: String) throws {
        guard !dossier.id.isEmpty else { throw EngineError.invalidParameter(field: field + ".id", message: "must not be empty") }
        try check(dossier.id, field: field + ".id")
        try check(dossier.name, field: field + ".name")
        guard dossier.attributes.count <= maxAttributes else {
            throw EngineError.invalidParameter(field: field + ".attributes", message: "at most \(maxAttributes) attributes")
        }
        for (name, value) in dossier.attributes {
            try check(name, field: field + ".attributes")
            try check(value, field: field + ".attributes." + name)
        }
    }
}
