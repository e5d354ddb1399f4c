import Foundation

/// A sending rule of step 4.
public struct Rule: Codable, Sendable, Equatable {
    public enum Period: String, Codable, Sendable {
        /// `{millésime}`/`{mois}` are the deposit's year and month.
        case current
        /// The deposit path matches any year and month.
        case any
    }

    public let id: String
    public let depositPath: String
    public let documentType: DocumentType
    public let archivePath: String?
    public let period: Period
    public let createdAt: String
}

/// What `rules.update` changes; `archivePath: .some(nil)` removes it.
public struct RuleChanges: Sendable {
    public var depositPath: String?
    public var documentType: DocumentType?
    public var archivePath: String??
    public var period: Rule.Period?

    public init(depositPath: String?, documentType: DocumentType?, archivePath: String??, period: Rule.Period?) {
        self.depositPath = depositPath
        self.documentType = documentType
        self.archivePath = archivePath
        self.period = period
    }
}

/// Step 4: the sending rules, checked as the spec says, and the folder
/// completion that helps write them.
public struct SendingRules: Sendable {
    let store: any RuleStore
    let catalogStore: any CatalogStore
    let calendar: Calendar
    let clock: any EngineClock
    let random: RandomSource

    public func add(depositPath: String, documentType: DocumentType, archivePath: String?, period: Rule.Period)
        async throws -> Rule
    {
        let rule = Rule(
            id: "rule_" + random.hex(bytes: 8), depositPath: depositPath,
            documentType: documentType, archivePath: archivePath, period: period, createdAt: Timestamp.text(clock.now))
        return try await save(rule, replacing: nil)
    }

    public func update(id: String, _ changes: RuleChanges) async throws -> Rule {
        guard let current = try await list().first(where: { $0.id == id }) else { throw EngineError.unknownRule(id: id) }
        let rule = Rule(
            id: id, depositPath: changes.depositPath ?? current.depositPath,
            documentType: changes.documentType ?? current.documentType,
            archivePath: changes.archivePath ?? current.archivePath, period: changes.period ?? current.period,
            createdAt: current.createdAt)
        return try await save(rule, replacing: id)
    }

    public func delete(id: String) async throws {
        guard try await store.delete(id: id) else { throw EngineError.unknownRule(id: id) }
    }

    public func list() async throws -> [Rule] {
        try await store.rules()
    }

    /// Validates a rule as the spec says, then stores it.
    private func save(_ rule: Rule, replacing id: String?) async throws -> Rule {
        let deposit = try Self.template(rule.depositPath, field: "depositPath")
        if let archivePath = rule.archivePath {
            let archive = try Self.template(archivePath, field: "archivePath")
            if archive.canonical == deposit.canonical {
                throw EngineError.invalidRule(
                    field: "archivePath", problem: "same_as_deposit_path",
                    message: "the archive path must differ from the deposit path (a subfolder of it is fine)")
            }
        }
        let stored = Rule(
            id: rule.id, depositPath: deposit.text, documentType: rule.documentType,
            archivePath: rule.archivePath?.precomposedStringWithCanonicalMapping, period: rule.period,
            createdAt: rule.createdAt)
        do {
            try await store.save(stored, depositKey: deposit.canonical, replacing: id)
        } catch is DuplicateRule {
            throw EngineError.invalidRule(
                field: "depositPath", problem: "duplicate_rule",
                message: "a rule already sends \(rule.documentType.label) documents from this deposit path")
        }
        return stored
    }

    static func template(_ path: String, field: String) throws -> PathTemplate {
        do {
            return try PathTemplate(path)
        } catch {
            let messages: [PathTemplate.Problem: String] = [
                .empty: "the path is empty", .absolute: "the path must be relative to the dossier's root",
                .dotSegment: "'.' and '..' are not allowed in a path",
                .unknownVariable: "only {millésime} and {mois} may be used",
            ]
            throw EngineError.invalidRule(field: field, problem: error.rawValue, message: messages[error] ?? "invalid")
        }
    }

    /// Folder paths of the catalog that start with `prefix`, with a current
    /// year segment also offered as `{millésime}` and the current month as `{mois}`.
    public func completePath(prefix: String, limit: Int) async throws -> [String] {
        guard (1...200).contains(limit) else {
            throw EngineError.invalidParameter(field: "limit", message: "must be from 1 to 200")
        }
        let (year, month) = calendar.yearAndMonth(of: clock.now)
        let (yearText, monthText) = PathTemplate.texts(year: year, month: month)
        let wanted = DossierPath.clean(PathTemplate.replacingVariables(in: prefix, year: yearText, month: monthText))
        let paths = try await catalogStore.folders(startingWith: wanted, limit: limit)
        var suggestions: [String] = []
        for path in paths {
            let templated = path.split(separator: "/").map { segment in
                segment == yearText ? "{millésime}" : segment == monthText ? "{mois}" : String(segment)
            }.joined(separator: "/")
            for candidate in [templated, path] where !suggestions.contains(candidate) {
                suggestions.append(candidate)
            }
        }
        return Array(suggestions.prefix(limit))
    }
}
