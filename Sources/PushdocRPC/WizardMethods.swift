import Engine
import InqomClient
import JSONRPC

/// Binds catalog, wizard, rules and connector methods to the engine.
extension PushdocMethods {
    static func registerWizard(_ table: inout MethodTable, engine: Engine) {
        table.register(UpsertDossiers.self) { params, _ in .init(upserted: try await engine.catalog.upsert(params.dossiers)) }
        table.register(RemoveDossiers.self) { params, _ in .init(removed: try await engine.catalog.remove(ids: params.ids)) }
        table.register(CatalogAttributes.self) { _, _ in .init(attributes: try await engine.catalog.attributes()) }
        table.register(UpsertFolders.self) { params, _ in .init(upserted: try await engine.catalog.addFolders(params.paths)) }

        table.register(WizardStateMethod.self) { _, _ in try await engine.setup.wizardState() }
        table.register(SearchDossiers.self) { params, _ in
            try await engine.catalog.search(
                query: params.query, paging: try Paging(page: params.page, pageSize: params.pageSize), selectedOnly: false)
        }
        table.register(SelectDossiers.self) { params, _ in
            guard params.ids != nil || params.query != nil else {
                throw ResponseError.invalidParams(field: "ids", "give ids, or a query to select all it matches")
            }
            return .init(selectedCount: try await engine.catalog.select(ids: params.ids, query: params.query, selected: params.selected))
        }
        table.register(SelectedDossiers.self) { params, _ in
            try await engine.catalog.search(
                query: nil, paging: try Paging(page: params.page, pageSize: params.pageSize), selectedOnly: true)
        }
        table.register(Connect.self) { params, _ in
            let credentials = InqomCredentials(
                login: params.login, password: params.password, clientSecret: params.clientSecret)
            return .init(connected: true, accountingFolders: try await engine.setup.connect(credentials))
        }
        table.register(Disconnect.self) { _, _ in
            try await engine.setup.disconnect()
            return EmptyResult()
        }
        table.register(MapDossiers.self) { params, _ in
            try await engine.setup.mapDossiers(siretAttribute: params.siretAttribute, save: params.save ?? true)
        }
        table.register(Mapping.self) { params, _ in
            try await engine.setup.savedMapping(paging: try Paging(page: params.page, pageSize: params.pageSize))
        }
        table.register(Finish.self) { _, _ in .init(state: try await engine.setup.finishWizard()) }
        table.register(Pause.self) { _, _ in .init(state: try await engine.setup.setPaused(true)) }
        table.register(Resume.self) { _, _ in .init(state: try await engine.setup.setPaused(false)) }
        table.register(Reset.self) { params, _ in
            guard params.confirm else { throw ResponseError.invalidParams(field: "confirm", "must be true") }
            try await engine.setup.reset()
            return EmptyResult()
        }

        table.register(AddRule.self) { params, _ in
            try await engine.rules.add(
                depositPath: params.depositPath, documentType: params.documentType, archivePath: params.archivePath,
                period: params.period ?? .current)
        }
        table.register(UpdateRule.self) { params, _ in try await engine.rules.update(id: params.id, params.changes) }
        table.register(DeleteRule.self) { params, _ in
            try await engine.rules.delete(id: params.id)
            return .init(deleted: true)
        }
        table.register(ListRules.self) { _, _ in .init(rules: try await engine.rules.list()) }
        table.register(CompletePath.self) { params, _ in
            .init(suggestions: try await engine.rules.completePath(prefix: params.prefix, limit: params.limit ?? 20))
        }
    }
}
