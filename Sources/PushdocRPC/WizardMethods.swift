import Engine
import InqomClient
import JSONRPC

/// Binds catalog, wizard, rules and connector methods to the engine.
extension PushdocMethods {
    static func registerWizard(_ table: inout MethodTable, engine: Engine) {
        register(&table, UpsertDossiers.self, of: engine) { params, firm, _ in .init(upserted: try await firm.catalog.upsert(params.dossiers)) }
        register(&table, RemoveDossiers.self, of: engine) { params, firm, _ in .init(removed: try await firm.catalog.remove(ids: params.ids)) }
        register(&table, CatalogAttributes.self, of: engine) { _, firm, _ in .init(attributes: try await firm.catalog.attributes()) }
        register(&table, UpsertFolders.self, of: engine) { params, firm, _ in .init(upserted: try await firm.catalog.addFolders(params.paths)) }

        register(&table, WizardStateMethod.self, of: engine) { _, firm, _ in try await firm.setup.wizardState() }
        register(&table, SearchDossiers.self, of: engine) { params, firm, _ in
            try await firm.catalog.search(
                query: params.query, paging: try Paging(page: params.page, pageSize: params.pageSize), selectedOnly: false)
        }
        register(&table, SelectDossiers.self, of: engine) { params, firm, _ in
            guard params.ids != nil || params.query != nil else {
                throw ResponseError.invalidParams(field: "ids", "give ids, or a query to select all it matches")
            }
            return .init(selectedCount: try await firm.catalog.select(ids: params.ids, query: params.query, selected: params.selected))
        }
        register(&table, SelectedDossiers.self, of: engine) { params, firm, _ in
            try await firm.catalog.search(
                query: nil, paging: try Paging(page: params.page, pageSize: params.pageSize), selectedOnly: true)
        }
        register(&table, Connect.self, of: engine) { params, firm, _ in
            let credentials = InqomCredentials(
                login: params.login, password: params.password, clientSecret: params.clientSecret)
            return .init(connected: true, accountingFolders: try await firm.setup.connect(credentials))
        }
        register(&table, Disconnect.self, of: engine) { _, firm, _ in
            try await firm.setup.disconnect()
            return EmptyResult()
        }
        register(&table, MapDossiers.self, of: engine) { params, firm, _ in
            try await firm.setup.mapDossiers(siretAttribute: params.siretAttribute, save: params.save ?? true)
        }
        register(&table, Mapping.self, of: engine) { params, firm, _ in
            try await firm.setup.savedMapping(paging: try Paging(page: params.page, pageSize: params.pageSize))
        }
        register(&table, Finish.self, of: engine) { _, firm, _ in .init(state: try await firm.setup.finishWizard()) }
        register(&table, Pause.self, of: engine) { _, firm, _ in .init(state: try await firm.setup.setPaused(true)) }
        register(&table, Resume.self, of: engine) { _, firm, _ in .init(state: try await firm.setup.setPaused(false)) }
        register(&table, Reset.self, of: engine) { params, firm, _ in
            guard params.confirm else { throw ResponseError.invalidParams(field: "confirm", "must be true") }
            try await firm.setup.reset()
            return EmptyResult()
        }

        register(&table, AddRule.self, of: engine) { params, firm, _ in
            try await firm.rules.add(
                depositPath: params.depositPath, documentType: params.documentType, archivePath: params.archivePath,
                period: params.period ?? .current)
        }
        register(&table, UpdateRule.self, of: engine) { params, firm, _ in try await firm.rules.update(id: params.id, params.changes) }
        register(&table, DeleteRule.self, of: engine) { params, firm, _ in
            try await firm.rules.delete(id: params.id)
            return .init(deleted: true)
        }
        register(&table, ListRules.self, of: engine) { _, firm, _ in .init(rules: try await firm.rules.list()) }
        register(&table, CompletePath.self, of: engine) { params, firm, _ in
            .init(suggestions: try await firm.rules.completePath(prefix: params.prefix, limit: params.limit ?? 20))
        }
    }
}
