/// What step 4's rules need from storage, each call one transaction.
/// `SQLRuleStore`, on SQLite or PostgreSQL, is the implementation; `RuleStoreTests` says what
/// any must do.
protocol RuleStore: Sendable {
    /// Every rule, oldest first: the order in which they are matched.
    func rules() async throws -> [Rule]
    /// Stores `rule`, in place of the rule `replacing` when given. Throws
    /// `DuplicateRule` when another rule sends the same type from the same
    /// deposit folder (`depositKey`, the deposit path compared as rules
    /// compare it); then nothing changes.
    func save(_ rule: Rule, depositKey: String, replacing id: String?) async throws
    /// Deletes the rule; false when there is none with that id.
    func delete(id: String) async throws -> Bool
}

struct DuplicateRule: Error {}
